"""The scheduler families' Prometheus text, re-rendering only what changed since the last scrape.

prometheus_client renders every line (``generate_latest``): a 1,000-job scrape is ~36,000
lines that mostly did not change since the last one. Here each scrape reads the jobs' rows
with dates and JSON as text (not converted: comparing them is the cheap part) and derives
what depends on the clock or this process (overdue, running and stuck runs, window
statistics) for every job. A job whose rows and derived values are equal to the last
scrape's keeps its lines; the others are rendered by the encoder itself (one call for all
of them) and cut into per-job, per-family pieces. The text is a HELP and TYPE line per
family followed by one line per sample (label values and help text escape their newlines),
so the body is byte for byte what the encoder gives for the same collector:
tests/test_exposition_cache.py checks it after random changes and with the clock moving.

The body is kept in segments of SEGMENT_JOBS jobs of one family; only the segments holding
a changed job are joined again, and each is gzipped once as its own gzip member (a gzip
stream may be several members, RFC 1952 2.2; Prometheus' Go reader and Python's read them
all; curl and browsers get one member, see reads_gzip_members). When nothing changed the
previous body and its gzip are returned as they are.
"""

import functools
import gzip
import struct
import threading
import zlib
from dataclasses import dataclass, field

from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from scheduler_monitor import conf, job_health, scheduler_event_metrics
from scheduler_monitor.exposition import SchedulerCollector
from scheduler_monitor.notification_metrics import notification_families

GZIP_LEVEL = 3  # level 9 (gzip.compress's default) cost 130 ms more a 4.5 MB scrape
SEGMENT_JOBS = 16  # smaller: less to gzip again per changed job, a larger gzipped body
EOF_LINE = b"# EOF\n"
# gzip header (RFC 1952: deflate, no name, mtime 0, unknown OS) and an empty final block.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
FINAL_BLOCK = b"\x03\x00"
# Families rendered whole at each scrape: not per job, a line or a few.
SCHEDULER_FAMILIES = ("up", "heartbeat")
EVENT_FAMILIES = ("missed", "skipped")
NOTIFICATIONS = "notifications_"  # keys of the incident/notification families, rendered whole

_lock = threading.Lock()


class _Families:
    """A collector stand-in that yields given families (for ``generate_latest``)."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


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


class Body:
    """One scrape's scheduler families: segments, their join and their gzip, made once."""

    def __init__(self, segments: list[bytes], closing: bytes):
        self.segments = segments  # without the closing line
        self.closing = closing  # OpenMetrics' ``# EOF``, else empty
        self.whole: dict[str, bytes] = {}  # the families rendered whole, by key

    @functools.cached_property
    def text(self) -> bytes:
        return b"".join(self.segments) + self.closing

    @functools.cached_property
    def gzipped(self) -> bytes:
        """As several gzip members (for scrapers: see reads_gzip_members)."""
        return gzipped([*self.segments, self.closing])

    @functools.cached_property
    def gzipped_whole(self) -> bytes:
        """As one gzip member (for any client)."""
        return gzipped_whole([*self.segments, self.closing], self.text)


@dataclass
class _EncoderCache:
    """What one encoder rendered at the last scrape."""

    shape: tuple = ()
    headers: dict = field(default_factory=dict)  # family key -> HELP and TYPE lines
    jobs: dict = field(default_factory=dict)  # job id -> (key, {family key: its lines})
    order: tuple = ()  # job ids in exposition order
    blocks: dict = field(default_factory=dict)  # (family key, block) -> segment
    whole: dict = field(default_factory=dict)  # family key -> (samples, its text)
    body: Body | None = None


_caches: dict[object, _EncoderCache] = {}
# job id -> ((its row and next run time as text), the PrometheusJob they convert to, (the
# converted row, next run time)); shared by the encoders: converting rows was most of a read.
_converted: dict[str, tuple] = {}
_grace_settings: tuple = ()
_members: dict[bytes, bytes] = {}  # segment -> its gzip member, kept one scrape
_deflated: dict[bytes, bytes] = {}  # segment -> its deflated bytes, kept one scrape


def scheduler_text(collector: SchedulerCollector | None = None, encoder=generate_latest) -> bytes:
    """``encoder(collector)``, with unchanged jobs' lines reused."""
    return scheduler_body(collector, encoder).text


def scheduler_segments(
    collector: SchedulerCollector | None = None, encoder=generate_latest
) -> list[bytes]:
    """``encoder(collector)`` in consecutive pieces, without OpenMetrics' ``# EOF`` line."""
    return list(scheduler_body(collector, encoder).segments)


def scheduler_body(collector: SchedulerCollector | None = None, encoder=generate_latest) -> Body:
    """``encoder(collector)`` as a Body: the previous one when nothing it shows changed.

    ``encoder``: prometheus_client's ``generate_latest`` (text 0.0.4) or its OpenMetrics
    one. Reads the rows each time (a fixed number of queries): never a stale line.
    """
    base = encoder.func if isinstance(encoder, functools.partial) else encoder
    if base not in (generate_latest, openmetrics_latest):
        raise ValueError(f"unsupported encoder {encoder!r}")
    collector = collector or SchedulerCollector()
    now = timezone.now()
    reading = job_health.prometheus_reading(now=now)
    bounds = conf.get("HISTOGRAM_BUCKETS")
    families = collector._families()
    shape = (tuple(bounds), tuple(families))
    scheduler = {key: families[key] for key in SCHEDULER_FAMILIES}
    collector._add_scheduler(scheduler, reading)
    degraded = scheduler_event_metrics.degraded_family()
    notifications = notification_families()
    with _lock:
        jobs = _jobs_now(reading, now)
        cache = _caches.setdefault(_encoder_key(encoder), _EncoderCache())
        if cache.shape != shape:
            cache.shape, cache.headers, cache.jobs, cache.blocks = shape, {}, {}, {}
            cache.whole, cache.body = {}, None
        changed = [
            (index, converted, key)
            for index, (job_id, key, converted) in enumerate(jobs)
            if cache.jobs.get(job_id, (None,))[0] != key
        ]
        order = tuple(job_id for job_id, _, _ in jobs)
        whole = {key: _whole(encoder, cache, key, family) for key, family in scheduler.items()}
        whole["degraded"] = _whole(encoder, cache, "degraded", degraded)
        for index, family in enumerate(notifications):
            key = f"{NOTIFICATIONS}{index}"
            whole[key] = _whole(encoder, cache, key, family)
        unchanged = not changed and order == cache.order and cache.body is not None
        if unchanged and all(cache.body.whole[key] is text for key, text in whole.items()):
            return cache.body
        fresh_jobs = _fresh_jobs(reading, now, changed)
        _render_changed(encoder, collector, cache, changed, fresh_jobs, bounds)
        cache.jobs = {job_id: cache.jobs[job_id] for job_id in order}
        dirty = {index // SEGMENT_JOBS for index, _, _ in changed}
        if order != cache.order:
            dirty = set(range(len(order) // SEGMENT_JOBS + 1))
        cache.order = order
        body = Body(_segments(cache, families, whole, dirty), EOF_LINE * is_openmetrics(encoder))
        body.whole = whole
        cache.body = body
        return body


def _jobs_now(reading, now) -> list[tuple]:
    """(job id, what its lines depend on, (converted row, next run time)) per job.

    Rows equal to the last scrape's keep their conversion; the others are read again,
    converted, with the text they compare by from the same read. Overdue, running, stuck
    and window statistics are derived afresh for every job: they change with the clock
    and other tables.
    """
    global _converted, _grace_settings
    grace_settings = (conf.get("OVERDUE_GRACE_FRACTION"), conf.get("OVERDUE_GRACE_MIN_SECONDS"))
    if grace_settings != _grace_settings:  # the converted jobs hold their effective grace
        _converted, _grace_settings = {}, grace_settings
    previous, fresh, convert = _converted, {}, []
    for row in reading.rows:
        job_id = row[1]
        cached = previous.get(job_id)
        if cached is not None and cached[0] == (row, reading.next_runs.get(job_id)):
            fresh[job_id] = cached
        else:
            convert.append(row)
    if convert:
        changed = reading.changed_jobs([row[0] for row in convert])
        next_runs = reading.changed_next_runs([row[1] for row in convert])
        # Built here only for what depends on the rows alone (overdue's inputs).
        jobs = job_health.prometheus_jobs(
            [row for _, row in changed],
            next_runs={job_id: value for job_id, (_, value) in next_runs.items()},
            running={},
            stuck={},
            stats={},
            now=now,
        )
        for (text_row, row), job in zip(changed, jobs, strict=True):
            next_text, next_run = next_runs.get(job.job_id, (None, None))
            fresh[job.job_id] = ((text_row, next_text), job, (row, next_run))
    _converted = fresh
    jobs = []
    for row in reading.rows:
        job_id = row[1]
        if job_id not in fresh:
            continue  # deleted since the first read
        raw, job, converted = fresh[job_id]
        key = (
            raw,
            job_health.job_overdue(job, now),
            reading.running_runs.get(row[0], 0),
            len(reading.stuck.get(job_id, ())),
            reading.stats.get(job_id),
        )
        jobs.append((job_id, key, converted))
    return jobs


def _fresh_jobs(reading, now, changed) -> list[tuple]:
    """PrometheusJob and event counts of each changed job, from this scrape's reads."""
    rows = [converted[0] for _, converted, _ in changed]
    next_runs = {row[1]: next_run for (row, next_run) in (c for _, c, _ in changed)}
    jobs = job_health.prometheus_jobs(
        rows,
        next_runs=next_runs,
        running=reading.running_runs,
        stuck=reading.stuck,
        stats=reading.stats,
        now=now,
    )
    return [(job, row[-2:]) for job, row in zip(jobs, rows, strict=True)]  # missed, skipped


def _whole(encoder, cache: _EncoderCache, key: str, family) -> bytes:
    """A family rendered whole, the same bytes object while its samples stay equal."""
    cached = cache.whole.get(key)
    if cached is not None and cached[0] == family.samples:
        return cached[1]
    text = _render(encoder, [family])
    cache.whole[key] = (family.samples, text)
    return text


def _render_changed(encoder, collector, cache: _EncoderCache, changed, jobs, bounds) -> None:
    """Render the changed jobs' lines in one ``encoder`` call and cut them up."""
    families = collector._families()
    for key in SCHEDULER_FAMILIES:
        del families[key]
    families.update(zip(EVENT_FAMILIES, scheduler_event_metrics.job_families(), strict=True))
    if not cache.headers:
        cache.headers = {key: _render(encoder, [f]) for key, f in families.items()}
    if not changed:
        return
    counts = []
    for job, events in jobs:
        before = {name: len(family.samples) for name, family in families.items()}
        collector._add_job(families, job, bounds)
        labels = [job.job_id, job.job_name, job.owner, job.category]
        scheduler_event_metrics.add_job(families["missed"], families["skipped"], labels, *events)
        counts.append({name: len(f.samples) - before[name] for name, f in families.items()})
    lines = _render(encoder, list(families.values())).split(b"\n")
    pieces = [{} for _ in changed]
    at = 0
    for name in families:
        at += cache.headers[name].count(b"\n")  # the family's HELP and TYPE (and UNIT) lines
        for job_pieces, count in zip(pieces, counts, strict=True):
            if count[name]:
                job_pieces[name] = b"\n".join(lines[at : at + count[name]]) + b"\n"
                at += count[name]
    for (_, _, key), (job, _), job_pieces in zip(changed, jobs, pieces, strict=True):
        cache.jobs[job.job_id] = (key, job_pieces)


def _segments(cache: _EncoderCache, families, whole, dirty) -> list[bytes]:
    """The body's segments in exposition order, joining again only the ``dirty`` blocks."""
    segments = []
    pieces = [cache.jobs[job_id][1] for job_id in cache.order]
    blocks = {}

    def per_job(name):
        segments.append(cache.headers[name])
        for block, first in enumerate(range(0, len(pieces), SEGMENT_JOBS)):
            segment = cache.blocks.get((name, block))
            if block in dirty or segment is None:
                chunk = pieces[first : first + SEGMENT_JOBS]
                segment = b"".join(job.get(name, b"") for job in chunk)
            blocks[name, block] = segment
            if segment:
                segments.append(segment)

    for name in families:
        if name in whole:
            segments.append(whole[name])
        else:
            per_job(name)
    # The scheduler's event counters follow the job families, as in collect().
    for name in EVENT_FAMILIES:
        per_job(name)
    segments.append(whole["degraded"])
    # The incident and notification figures close the body, as in collect().
    segments.extend(text for key, text in whole.items() if key.startswith(NOTIFICATIONS))
    cache.blocks = blocks
    return segments


def gzipped(segments: list[bytes]) -> bytes:
    """The joined segments gzipped, as one gzip member per segment, each made once.

    A segment equal to one of the last call's reuses its member: a scrape where 1 % of
    jobs changed gzips ~15 % of the body again.
    """
    global _members
    previous, fresh = _members, {}
    for segment in segments:
        if not segment or segment in fresh:
            continue
        member = previous.get(segment)
        if member is None:
            member = gzip.compress(segment, compresslevel=GZIP_LEVEL, mtime=0)
        fresh[segment] = member
    _members = fresh
    return b"".join(fresh[segment] for segment in segments if segment) or gzip.compress(b"")


def reads_gzip_members(accept: str) -> bool:
    """Whether a client sending this Accept header reads a gzip body of several members.

    Every Prometheus-compatible scraper names the exposition format it wants, and they are
    Go programs (Prometheus, vmagent, the OpenTelemetry collector, Telegraf) whose gzip
    reader reads every member; Go's HTTP client sends no Accept at all. curl (``*/*``)
    and browsers read only the first member, so they get one (gzipped_whole).
    """
    accept = accept.strip()
    return not accept or "openmetrics-text" in accept or "version=0.0.4" in accept


def gzipped_whole(segments: list[bytes], text: bytes) -> bytes:
    """``text`` (the segments joined) as one gzip member, each segment deflated once.

    Each segment is deflated on its own and ended with a full flush (byte-aligned, no
    reference to what came before), so deflated segments can be put one after another
    (as pigz does); only the checksum is computed over the whole text again.
    """
    global _deflated
    previous, fresh = _deflated, {}
    for segment in segments:
        if not segment or segment in fresh:
            continue
        deflated = previous.get(segment)
        if deflated is None:
            compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
            deflated = compressor.compress(segment) + compressor.flush(zlib.Z_FULL_FLUSH)
        fresh[segment] = deflated
    _deflated = fresh
    out = [GZIP_HEADER, *(fresh[segment] for segment in segments if segment), FINAL_BLOCK]
    out.append(struct.pack("<II", zlib.crc32(text), len(text) & 0xFFFFFFFF))
    return b"".join(out)


def reset() -> None:
    """Forget every rendered piece (tests; a new process starts without them)."""
    global _converted, _members, _deflated
    with _lock:
        _caches.clear()
        _converted = {}
        _members = {}
        _deflated = {}
