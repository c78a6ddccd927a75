"""The scheduler families' Prometheus text, reusing the lines of jobs that did not change.

prometheus_client renders every line (``generate_latest``): 94 % of a 1,000-job scrape was
formatting ~32,000 lines that mostly did not change since the last one. Here the lines of
the jobs whose exported values changed are rendered by ``generate_latest`` (one call for
all of them) and cut into per-job, per-family pieces; an unchanged job's pieces are reused.
The text 0.0.4 format is a HELP and a TYPE line per family followed by one line per sample
(label values and help text escape their newlines), so the body is byte for byte what
``generate_latest`` gives for the same collector: tests/test_exposition_cache.py checks it.

Time-based values stay right: each scrape takes a new snapshot, and a job's pieces are
reused only when every exported value (overdue included) is equal.
"""

import dataclasses
import gzip
import threading

from prometheus_client import generate_latest

from scheduler_monitor import conf, selectors
from scheduler_monitor.prometheus import SchedulerCollector

GZIP_LEVEL = 3  # level 9 took 130 ms more per 4.5 MB scrape for ~10 % fewer bytes

_lock = threading.Lock()
# job id -> (shape, exported values, {family key: its lines}); replaced each scrape.
_pieces: dict[str, tuple] = {}
_headers: dict[tuple, dict[str, bytes]] = {}
_last_gzip: tuple[bytes, bytes] | None = None


class _Families:
    """A collector stand-in that yields given families (for ``generate_latest``)."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


def _exported(job: selectors.PrometheusJob) -> tuple:
    """What the job's lines depend on: the row, with lateness reduced to overdue or not."""
    return (job.overdue, dataclasses.replace(job, late_seconds=None))


def scheduler_text(collector: SchedulerCollector | None = None) -> bytes:
    """``generate_latest(collector)``, with unchanged jobs' lines reused."""
    global _pieces
    collector = collector or SchedulerCollector()
    snapshot = selectors.prometheus_snapshot()
    bounds = conf.get("HISTOGRAM_BUCKETS")
    families = collector._families()
    shape = (tuple(bounds), tuple(families))
    with _lock:
        previous = _pieces
        fresh: dict[str, tuple] = {}
        changed = []
        for job in snapshot.jobs:
            key = _exported(job)
            cached = previous.get(job.job_id)
            if cached is not None and cached[0] == shape and cached[1] == key:
                fresh[job.job_id] = cached
            else:
                changed.append((job, key))
        for job, key in changed:
            fresh[job.job_id] = (shape, key, {})
        _render_changed(collector, changed, bounds, shape, fresh)
        _pieces = fresh
        headers = _family_headers(collector, shape)
    collector._add_scheduler(families, snapshot)
    parts = []
    for name, family in families.items():
        if family.samples:  # not per job: rendered whole, it is a line or two
            parts.append(generate_latest(_Families([family])))
            continue
        parts.append(headers[name])
        parts.extend(fresh[job.job_id][2].get(name, b"") for job in snapshot.jobs)
    return b"".join(parts)


def _render_changed(collector, changed, bounds, shape, fresh) -> None:
    """Render the changed jobs' lines in one ``generate_latest`` call and cut them up."""
    if not changed:
        return
    families = collector._families()
    counts = []
    for job, _ in changed:
        before = {name: len(family.samples) for name, family in families.items()}
        collector._add_job(families, job, bounds)
        counts.append({name: len(f.samples) - before[name] for name, f in families.items()})
    lines = generate_latest(_Families(list(families.values()))).split(b"\n")
    at = 0
    for name in families:
        at += 2  # the family's HELP and TYPE lines
        for (job, _), count in zip(changed, counts, strict=True):
            if count[name]:
                fresh[job.job_id][2][name] = b"\n".join(lines[at : at + count[name]]) + b"\n"
                at += count[name]


def _family_headers(collector, shape) -> dict[str, bytes]:
    """Each family's HELP and TYPE lines, as ``generate_latest`` writes them."""
    headers = _headers.get(shape)
    if headers is None:
        headers = {
            name: generate_latest(_Families([family]))
            for name, family in collector._families().items()
        }
        _headers.clear()
        _headers[shape] = headers
    return headers


def gzipped(body: bytes) -> bytes:
    """``body`` gzip-compressed at GZIP_LEVEL; the last result is reused for the same body."""
    global _last_gzip
    last = _last_gzip
    if last is not None and last[0] == body:
        return last[1]
    compressed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    _last_gzip = (body, compressed)
    return compressed


def reset() -> None:
    """Forget every rendered piece (tests; a new process starts without them)."""
    global _pieces, _last_gzip
    with _lock:
        _pieces = {}
        _headers.clear()
        _last_gzip = None
