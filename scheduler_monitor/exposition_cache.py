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
import functools
import operator
import struct
import threading
import zlib

from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from scheduler_monitor import conf, job_health
from scheduler_monitor.exposition import SchedulerCollector

GZIP_LEVEL = 3  # level 9 (gzip.compress's default) cost 130 ms more a 4.5 MB scrape

_lock = threading.Lock()
# job id -> (shape, exported values, {family key: its lines}); replaced each scrape.
_pieces: dict[object, dict[str, tuple]] = {}  # per encoder
_headers: dict[object, tuple] = {}  # per encoder: (shape, {family key: its lines})
_deflated: dict[bytes, bytes] = {}  # segment -> its deflated bytes, kept one scrape
SEGMENT_JOBS = 64
# gzip header (RFC 1952: deflate, no name, mtime 0, unknown OS) and an empty final block.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
FINAL_BLOCK = b"\x03\x00"


class _Families:
    """A collector stand-in that yields given families (for ``generate_latest``)."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


# Every field but the lateness, which counts only as overdue or not.
_row_values = operator.attrgetter(
    *(f.name for f in dataclasses.fields(job_health.PrometheusJob) if f.name != "late_seconds")
)


def _exported(job: job_health.PrometheusJob) -> tuple:
    """What the job's lines depend on: its values, with lateness reduced to overdue or not."""
    return (job.overdue, _row_values(job))


EOF_LINE = b"# EOF\n"


def is_openmetrics(encoder) -> bool:
    """Whether ``encoder`` (as ``choose_encoder`` returns it, maybe a partial) is OpenMetrics."""
    base = encoder.func if isinstance(encoder, functools.partial) else encoder
    return base is openmetrics_latest


def _encoder_key(encoder) -> object:
    """The same key for equal partials (``choose_encoder`` builds a new one per request)."""
    if isinstance(encoder, functools.partial):
        return (encoder.func, encoder.args, tuple(sorted(encoder.keywords.items())))
    return encoder


def without_eof(encoder, text: bytes) -> bytes:
    """``text`` without OpenMetrics' closing ``# EOF`` line (text 0.0.4 has none)."""
    return text[: -len(EOF_LINE)] if is_openmetrics(encoder) else text


def _render(encoder, families) -> bytes:
    """``encoder`` over these families, without a closing ``# EOF`` line."""
    return without_eof(encoder, encoder(_Families(families)))


def scheduler_text(collector: SchedulerCollector | None = None, encoder=generate_latest) -> bytes:
    """``encoder(collector)``, with unchanged jobs' lines reused."""
    segments = scheduler_segments(collector, encoder)
    if is_openmetrics(encoder):
        segments.append(EOF_LINE)
    return b"".join(segments)


def scheduler_segments(
    collector: SchedulerCollector | None = None, encoder=generate_latest
) -> list[bytes]:
    """``encoder(collector)`` in consecutive pieces of up to SEGMENT_JOBS jobs' lines.

    ``encoder``: prometheus_client's ``generate_latest`` (text 0.0.4) or its OpenMetrics
    one, whose ``# EOF`` line the caller adds after the last family. Joined, the pieces
    are the body; gzipped() deflates each piece once while it stays equal.
    """
    base = encoder.func if isinstance(encoder, functools.partial) else encoder
    if base not in (generate_latest, openmetrics_latest):
        raise ValueError(f"unsupported encoder {encoder!r}")
    cache_key = _encoder_key(encoder)
    collector = collector or SchedulerCollector()
    snapshot = job_health.prometheus_snapshot()
    bounds = conf.get("HISTOGRAM_BUCKETS")
    families = collector._families()
    shape = (tuple(bounds), tuple(families))
    with _lock:
        previous = _pieces.get(cache_key, {})
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
        headers = _family_headers(encoder, collector, shape)
        _render_changed(encoder, collector, changed, bounds, headers, fresh)
        _pieces[cache_key] = fresh
    collector._add_scheduler(families, snapshot)
    segments = []
    pieces = [fresh[job.job_id][2] for job in snapshot.jobs]
    for name, family in families.items():
        if family.samples:  # not per job: rendered whole, it is a line or two
            segments.append(_render(encoder, [family]))
            continue
        segments.append(headers[name])
        for first in range(0, len(pieces), SEGMENT_JOBS):
            block = pieces[first : first + SEGMENT_JOBS]
            segments.append(b"".join(job_pieces.get(name, b"") for job_pieces in block))
    # The scheduler's event counters and the incident figures follow, as in collect().
    tail = collector.tail_families()
    if tail:
        segments.append(_render(encoder, tail))
    return segments


def _render_changed(encoder, collector, changed, bounds, headers, fresh) -> None:
    """Render the changed jobs' lines in one ``encoder`` call and cut them up."""
    if not changed:
        return
    families = collector._families()
    counts = []
    for job, _ in changed:
        before = {name: len(family.samples) for name, family in families.items()}
        collector._add_job(families, job, bounds)
        counts.append({name: len(f.samples) - before[name] for name, f in families.items()})
    lines = _render(encoder, list(families.values())).split(b"\n")
    at = 0
    for name in families:
        at += headers[name].count(b"\n")  # the family's HELP and TYPE (and UNIT) lines
        for (job, _), count in zip(changed, counts, strict=True):
            if count[name]:
                fresh[job.job_id][2][name] = b"\n".join(lines[at : at + count[name]]) + b"\n"
                at += count[name]


def _family_headers(encoder, collector, shape) -> dict[str, bytes]:
    """Each family's HELP and TYPE lines, as ``encoder`` writes them."""
    cached = _headers.get(_encoder_key(encoder))
    if cached is not None and cached[0] == shape:
        return cached[1]
    headers = {name: _render(encoder, [family]) for name, family in collector._families().items()}
    _headers[_encoder_key(encoder)] = (shape, headers)
    return headers


def gzipped(segments: list[bytes]) -> bytes:
    """The joined segments as one gzip member, each segment deflated once while unchanged.

    Each segment is deflated on its own and ended with a full flush (byte-aligned, no
    reference to what came before), so deflated segments can be put one after another
    (as pigz does): a scrape where 1 % of jobs changed deflates ~5 % of the body again.
    """
    global _deflated
    previous = _deflated
    fresh: dict[bytes, bytes] = {}
    out = [GZIP_HEADER]
    crc = 0
    size = 0
    for segment in segments:
        deflated = fresh.get(segment)
        if deflated is None:
            deflated = previous.get(segment)
        if deflated is None:
            compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
            deflated = compressor.compress(segment) + compressor.flush(zlib.Z_FULL_FLUSH)
        fresh[segment] = deflated
        out.append(deflated)
        crc = zlib.crc32(segment, crc)
        size += len(segment)
    _deflated = fresh
    out.append(FINAL_BLOCK)
    out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(out)


def reset() -> None:
    """Forget every rendered piece (tests; a new process starts without them)."""
    global _deflated
    with _lock:
        _pieces.clear()
        _headers.clear()
        _deflated = {}
