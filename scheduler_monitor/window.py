"""This process's rolling window, kept in step with the database.

Every process (scheduler, each web worker) has its own window. It is warmed from the last
N runs of each job, then topped up with rows recorded since a watermark. The watermark is
re-read with an overlap, and run ids already taken are skipped, so a transaction that
committed late is neither missed nor counted twice.

Bounded in every process: the ids taken are kept only as long as a top-up can read them
again (the overlap), and a process that records runs but never tops up (a scheduler that
never reads its window) keeps none; past ``SEEN_LIMIT`` ids it drops its bookkeeping and
warms afresh at its next read.
"""

import threading
import time
import zlib
from array import array
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.models import TIMED_STATUSES, JobDefinition, JobRun
from scheduler_monitor.rolling import NO_TIME, RollingWindow
from scheduler_monitor.stats import Stats, percentile

TIMED = frozenset(str(status) for status in TIMED_STATUSES)
# At most this many taken run ids are remembered (~150 B each): a process that tops up
# every few minutes at 1,000 runs a minute stays far below it.
SEEN_LIMIT = 50_000
SEEN_TRIM_MIN = 1024
# A baseline p95 (hours of runs) is reused this long, give or take a jittered fifth so
# a thousand jobs are not all recomputed in the same evaluation.
BASELINE_REUSE_SECONDS = 300


class SyncedWindow:
    """A RollingWindow plus the bookkeeping that keeps it in step with the database."""

    def __init__(self, maxlen: int):
        self.window = RollingWindow(maxlen)
        self._lock = threading.RLock()
        self._warmed = False
        self._watermark: datetime | None = None
        self._seen: dict[int, datetime] = {}
        self._trim_at = SEEN_TRIM_MIN
        self._last_refresh = float("-inf")
        # (job id, span) -> (span end it was computed for, p95, samples); bounded by the
        # jobs times the spans the alert rules ask for.
        self._baselines: dict[tuple[str, float], tuple[datetime, float | None, int]] = {}

    @property
    def maxlen(self) -> int:
        return self.window.maxlen

    def note_recorded(
        self,
        run_id: int | None,
        job_id: str,
        duration_ms: float,
        at: datetime,
        started_at: datetime | None = None,
    ):
        """Add a run this process has just written, so it is not taken again from the DB.

        ``at``: when it was recorded (the watermark's clock); ``started_at``: its start.
        """
        with self._lock:
            # Before the warm-up nothing needs remembering: it reads every job afresh.
            if run_id is not None and self._warmed:
                if run_id in self._seen:
                    return
                self._seen[run_id] = at
                if len(self._seen) >= self._trim_at:
                    self._trim_seen()
            self.window.add(job_id, duration_ms, _epoch(started_at))

    def _trim_seen(self) -> None:
        """Forget ids no top-up can read again; past SEEN_LIMIT, forget the warm-up too.

        A top-up reads from the watermark minus the overlap onwards, and the watermark
        only moves forward, so older ids are dead weight. Caller holds the lock.
        """
        horizon = self._watermark - self._overlap()
        self._seen = {k: v for k, v in self._seen.items() if v >= horizon}
        if len(self._seen) >= SEEN_LIMIT:
            # Recording without reading: re-warming later is cheaper than remembering.
            self._seen = {}
            self._warmed = False
            self._watermark = None
        self._trim_at = max(SEEN_TRIM_MIN, 2 * len(self._seen))

    def refresh(self, *, force: bool = False) -> None:
        """Warm the window, or top it up, unless that was done moments ago."""
        interval = conf.get("WINDOW_REFRESH_INTERVAL")
        with self._lock:
            if not force and time.monotonic() - self._last_refresh < interval:
                return
            if self._warmed:
                self._top_up()
            else:
                self._warm()
            self._last_refresh = time.monotonic()

    def get_statistics(self, job_id: str) -> Stats:
        return self.window.get_statistics(job_id)

    def durations_since(self, job_id: str, since: datetime) -> list[float]:
        """Durations of the job's kept runs started at or after ``since``."""
        return self.window.durations_since(job_id, since.timestamp())

    def get_all_statistics(self) -> dict[str, Stats]:
        return self.window.get_all_statistics()

    def baseline_p95(
        self, job_id: str, *, since: datetime, until: datetime
    ) -> tuple[float | None, int]:
        """p95 and count of the job's kept runs started in [since, until), reused a while.

        A baseline spans hours; moving its end by a few minutes hardly changes it, so one
        computed for an end up to BASELINE_REUSE_SECONDS (jittered per job) earlier is
        returned as it is. Reads only the window: no query, whatever the run rate.
        """
        key = (job_id, (until - since).total_seconds())
        reuse = BASELINE_REUSE_SECONDS * (0.8 + (zlib.crc32(job_id.encode()) % 1000) / 2500)
        cached = self._baselines.get(key)
        if cached is not None and 0 <= (until - cached[0]).total_seconds() < reuse:
            return cached[1], cached[2]
        low, high = since.timestamp(), until.timestamp()
        durations, times = self.window.timed_samples(job_id)
        inside = sorted(d for d, t in zip(durations, times, strict=True) if low <= t < high)
        result = (until, percentile(inside, 0.95), len(inside))
        with self._lock:
            if len(self._baselines) > 4 * len(self.window.job_ids()) + 64:
                self._baselines.clear()  # jobs gone or spans changed: start over
            self._baselines[key] = result
        return result[1], result[2]

    def _overlap(self) -> timedelta:
        return timedelta(seconds=conf.get("WINDOW_SYNC_OVERLAP"))

    def _warm(self) -> None:
        started = timezone.now()
        # Ids and durations only: turning a million timestamps into datetimes was most of
        # the warm-up. The ids recorded within the overlap are read once, afterwards.
        taken = array("q")
        sql, statuses = last_durations_sql()
        with connection.cursor() as cursor:
            for job_pk, job_id in JobDefinition.objects.values_list("pk", "job_id"):
                cursor.execute(sql, [job_pk, *statuses, self.maxlen])
                rows = cursor.fetchall()
                if not rows:
                    continue
                rows.reverse()
                self.window.replace(
                    job_id,
                    (row[1] for row in rows),
                    (NO_TIME if row[2] is None else row[2] for row in rows),
                )
                taken.extend(row[0] for row in rows)
        # Filtered on recorded_at alone and unordered, so the recorded_at index is the
        # only one that fits: given the status filter or the model's ordering, SQLite walked
        # the status or (started_at, id) index instead (1.4 s at a million runs).
        recent = dict(
            JobRun.objects.filter(recorded_at__gte=started - self._overlap())
            .order_by()
            .values_list("id", "recorded_at")
        )
        # Only what the window holds counts as seen: a run recorded after its job's query
        # is left for the next top-up to add.
        if recent:
            lowest = min(recent)
            self._seen.update(
                (run_id, recent[run_id])
                for run_id in taken
                if run_id >= lowest and run_id in recent
            )
        self._watermark = started
        self._warmed = True

    def _top_up(self) -> None:
        started = timezone.now()
        since = self._watermark - self._overlap()
        # Timed runs are picked in Python: a status filter in SQL lets SQLite prefer the
        # status index over recorded_at and read most of the table.
        rows = (
            JobRun.objects.filter(recorded_at__gte=since)
            .order_by("recorded_at", "id")
            .values_list("id", "job__job_id", "status", "duration_ms", "recorded_at", "started_at")
        )
        horizon = started - self._overlap()
        for run_id, job_id, status, duration_ms, recorded_at, run_start in rows.iterator(
            chunk_size=2000
        ):
            if run_id in self._seen or status not in TIMED or duration_ms is None:
                continue
            if recorded_at >= horizon:  # older ones the next top-up does not read again
                self._seen[run_id] = recorded_at
            self.window.add(job_id, duration_ms, _epoch(run_start))
        self._watermark = started
        self._seen = {k: v for k, v in self._seen.items() if v >= horizon}
        self._trim_at = max(SEEN_TRIM_MIN, 2 * len(self._seen))


def _epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else NO_TIME


def started_epoch_sql() -> str:
    """SQL for a run's start in epoch seconds, so the warm-up builds no datetimes."""
    column = connection.ops.quote_name("started_at")
    if connection.vendor == "sqlite":
        return f"(julianday({column}) - 2440587.5) * 86400.0"
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::float8"
    if connection.vendor == "mysql":
        return f"UNIX_TIMESTAMP({column})"
    return "NULL"  # unknown: the window keeps the runs without their times


def last_durations_sql() -> tuple[str, list[str]]:
    """SQL for a job's last N timed runs (id, duration, start), newest first, and statuses.

    Run once per job at warm-up; plain SQL here because compiling the same ORM query a
    thousand times and building a row tuple per value cost more than the queries did.
    The ORDER BY is served by the (job, started_at) index.
    """
    quote = connection.ops.quote_name
    statuses = [str(s) for s in TIMED_STATUSES]
    marks = ", ".join(["%s"] * len(statuses))
    sql = (
        f"SELECT {quote('id')}, {quote('duration_ms')}, {started_epoch_sql()}"
        f" FROM {quote(JobRun._meta.db_table)}"
        f" WHERE {quote('job_id')} = %s AND {quote('status')} IN ({marks})"
        f" AND {quote('duration_ms')} IS NOT NULL"
        f" ORDER BY {quote('started_at')} DESC, {quote('id')} DESC LIMIT %s"
    )
    return sql, statuses


_window: SyncedWindow | None = None
_window_lock = threading.Lock()


def get_window() -> SyncedWindow:
    """Return this process's window, creating it on first use."""
    global _window
    with _window_lock:
        if _window is None or _window.maxlen != conf.get("HISTORY_SIZE"):
            _window = SyncedWindow(conf.get("HISTORY_SIZE"))
        return _window


def reset_window() -> None:
    """Drop this process's window; the next use warms a new one from the database."""
    global _window
    with _window_lock:
        _window = None
