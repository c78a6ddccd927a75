"""The write path: run a job, time it, store the run, bump counters, feed the window.

Recording never breaks a job. If the database cannot be written, the finished record waits
in a bounded in-memory buffer and is written when the database is back.
"""

import contextlib
import contextvars
import json
import logging
import os
import socket
import threading
import time
import traceback as traceback_module
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DatabaseError, InterfaceError, close_old_connections, connection, transaction
from django.db.models import F, Value
from django.db.models.expressions import CombinedExpression
from django.utils import timezone

from scheduler_monitor import conf, histogram
from scheduler_monitor.models import (
    FAILED_STATUSES,
    TIMED_STATUSES,
    JobDefinition,
    JobRun,
    RunStatus,
    RunTrigger,
)
from scheduler_monitor.window import get_window

logger = logging.getLogger(__name__)

HOSTNAME = socket.gethostname()
DB_ERRORS = (DatabaseError, InterfaceError)

_current_measurements: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "scheduler_monitor_measurements", default=None
)


@dataclass(frozen=True)
class FinishedRun:
    """Everything needed to write one finished (or never started) run."""

    job_id: str
    status: str
    trigger: str = RunTrigger.SCHEDULED
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    error: str = ""
    traceback: str = ""
    measurements: dict = field(default_factory=dict)
    hostname: str = HOSTNAME
    pid: int | None = None
    run_id: int | None = None


def truncate(text: str, limit: int) -> str:
    """Keep at most ``limit`` characters: the head and the tail, with a marker between."""
    if len(text) <= limit:
        return text
    marker = f"\n... [{len(text) - limit} characters truncated] ...\n"
    keep = max(limit - len(marker), 0)
    head = keep // 2
    return text[:head] + marker + text[len(text) - (keep - head) :]


def record_measurement(name: str, value: float) -> None:
    """Attach a named measurement (e.g. a gateway's response time in ms) to the current run."""
    measurements = _current_measurements.get()
    if measurements is None:
        raise RuntimeError("record_measurement() called outside a monitored job run")
    measurements[str(name)[:100]] = float(value)


class RecordBuffer:
    """Finished records the database refused, written later in order; bounded."""

    def __init__(self, maxlen: int):
        self._pending: deque[FinishedRun] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, record: FinishedRun) -> None:
        with self._lock:
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
                logger.error(
                    "Run record buffer full (%s records): dropping the oldest; %s dropped so far",
                    self._pending.maxlen,
                    self.dropped,
                )
            self._pending.append(record)

    def flush(self, write: Callable[[FinishedRun], None]) -> int:
        """Write buffered records oldest first; stop at the first database error."""
        written = 0
        with self._lock:
            while self._pending:
                record = self._pending[0]
                try:
                    write(record)
                except DB_ERRORS as exc:
                    _discard_broken_connection()
                    logger.warning("Database still unavailable (%s); %s buffered", exc, len(self))
                    break
                self._pending.popleft()
                written += 1
        if written:
            logger.info("Wrote %s buffered run records", written)
        return written


def _discard_broken_connection() -> None:
    """Close this thread's connection so the next attempt opens a fresh one.

    Inside a caller's transaction the connection is left alone: closing it would break
    the caller, and ``atomic`` already marks the transaction for rollback.
    """
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close too
        logger.debug("Closing a broken connection failed", exc_info=True)


# A run starting this soon after the same thread's last one reuses its connection as it is:
# checking it (close_old_connections, then a health-check query on PostgreSQL) cost one
# more round trip per run, a third of the write path's (benchmark figure 1).
CONNECTION_RECHECK_AFTER_SECONDS = 1.0
_thread_state = threading.local()
monotonic = time.monotonic  # a name tests can replace


def connection_may_be_stale() -> bool:
    """Whether this thread's connection should be checked before the next run.

    Yes after an error on it, or when the thread's last run ended over a second ago
    (the server may have closed it meanwhile), or before the thread's first run.
    """
    if connection.errors_occurred:
        return True
    last = getattr(_thread_state, "last_run_ended", None)
    return last is None or monotonic() - last > CONNECTION_RECHECK_AFTER_SECONDS


class Recorder:
    """Runs jobs through the recording path; one per process (``recorder`` below)."""

    def __init__(self):
        self.buffer = RecordBuffer(conf.get("RECORD_BUFFER_SIZE"))
        self._job_pks: dict[str, int] = {}
        self._active = 0
        self._active_runs: set[int] = set()
        self._idle = threading.Condition()

    # -- jobs ---------------------------------------------------------------------------
    def _job_pk(self, job_id: str) -> int:
        pk = self._job_pks.get(job_id)
        if pk is None:
            job, _ = JobDefinition.objects.get_or_create(job_id=job_id, defaults={"name": job_id})
            pk = self._job_pks[job_id] = job.pk
        return pk

    def forget_jobs(self) -> None:
        self._job_pks.clear()

    # -- in-flight runs -------------------------------------------------------------------
    @property
    def active_count(self) -> int:
        return self._active

    def active_run_ids(self) -> set[int]:
        with self._idle:
            return set(self._active_runs)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is running here; return False if the timeout passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout=timeout)

    # -- the write path -------------------------------------------------------------------
    def execute(
        self,
        job_id: str,
        func: Callable[[], object],
        *,
        trigger: str = RunTrigger.SCHEDULED,
        scheduled_at: datetime | None = None,
        on_start: Callable[[int | None], None] | None = None,
    ) -> FinishedRun:
        """Run ``func`` as one recorded run of ``job_id`` and return what was recorded."""
        if not connection.in_atomic_block and connection_may_be_stale():
            # Drop a connection the server may have closed while this thread idled.
            close_old_connections()
        self.flush()
        started_at = timezone.now()
        run_id = self._insert_running(job_id, trigger, scheduled_at, started_at)
        with self._idle:
            self._active += 1
            if run_id is not None:
                self._active_runs.add(run_id)
        measurements: dict = {}
        token = _current_measurements.set(measurements)
        error = tb = ""
        status = RunStatus.SUCCESS
        escaping: BaseException | None = None
        t0 = time.perf_counter()
        try:
            if on_start is not None:
                on_start(run_id)
            func()
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised if not an Exception
            status = RunStatus.FAILURE
            error = truncate(f"{type(exc).__name__}: {exc}", conf.get("ERROR_TEXT_LIMIT"))
            tb = truncate(traceback_module.format_exc(), conf.get("TRACEBACK_LIMIT"))
            if not isinstance(exc, Exception):
                escaping = exc
            else:
                logger.warning("Job %s failed: %s", job_id, error.splitlines()[0][:500])
        finally:
            duration_ms = (time.perf_counter() - t0) * 1000.0
            _current_measurements.reset(token)
        record = FinishedRun(
            job_id=job_id,
            status=status,
            trigger=trigger,
            scheduled_at=scheduled_at,
            started_at=started_at,
            finished_at=timezone.now(),
            duration_ms=duration_ms,
            error=error,
            traceback=tb,
            measurements=measurements,
            pid=os.getpid(),
            run_id=run_id,
        )
        try:
            self.save(record)
        finally:
            _thread_state.last_run_ended = monotonic()
            with self._idle:
                self._active -= 1
                self._active_runs.discard(run_id)
                self._idle.notify_all()
        if escaping is not None:
            raise escaping
        return record

    def record_unstarted(self, job_id: str, status: str, scheduled_at: datetime | None) -> None:
        """Record a run APScheduler never started (missed, or skipped at max instances)."""
        self.save(
            FinishedRun(
                job_id=job_id,
                status=status,
                scheduled_at=scheduled_at,
                finished_at=timezone.now(),
                pid=os.getpid(),
            )
        )

    def save(self, record: FinishedRun) -> None:
        """Write a finished record now, or buffer it if the database refuses."""
        try:
            self.flush()
            self.write(record)
        except DB_ERRORS as exc:
            _discard_broken_connection()
            logger.warning("Could not record run of %s (%s); buffered", record.job_id, exc)
            self.buffer.push(record)

    def flush(self) -> int:
        """Write what the buffer holds; return how many records were written."""
        if not len(self.buffer):
            return 0
        return self.buffer.flush(self.write)

    def _insert_running(self, job_id, trigger, scheduled_at, started_at) -> int | None:
        try:
            return insert_run(
                JobRun(
                    job_id=self._job_pk(job_id),
                    status=RunStatus.RUNNING,
                    trigger=trigger,
                    scheduled_at=scheduled_at,
                    started_at=started_at,
                    hostname=HOSTNAME,
                    pid=os.getpid(),
                )
            )
        except DB_ERRORS as exc:
            _discard_broken_connection()
            logger.warning("Could not insert running row for %s (%s)", job_id, exc)
            return None

    def write(self, record: FinishedRun) -> int | None:
        """Store one finished record and its counters in one transaction; return the run id."""
        recorded_at = timezone.now()
        job_pk = self._job_pk(record.job_id)
        fields = {
            "status": record.status,
            "finished_at": record.finished_at,
            "duration_ms": record.duration_ms,
            "error": record.error,
            "traceback": record.traceback,
            "measurements": record.measurements,
            "recorded_at": recorded_at,
        }
        if finish_and_count_in_one_statement(job_pk, record, fields):
            get_window().note_recorded(
                record.run_id, record.job_id, record.duration_ms, recorded_at, record.started_at
            )
            return record.run_id
        with transaction.atomic():
            run_id = record.run_id
            if run_id is not None:
                # Conditional: a row another instance already marked abandoned stays so,
                # and a retried write never counts twice.
                if not finish_run(run_id, fields):
                    return None
            else:
                run_id = insert_run(
                    JobRun(
                        job_id=job_pk,
                        trigger=record.trigger,
                        scheduled_at=record.scheduled_at,
                        started_at=record.started_at,
                        hostname=record.hostname,
                        pid=record.pid,
                        **fields,
                    )
                )
            update_job(job_pk, {**counter_updates(record), **histogram_updates(job_pk, [record])})
        if record.status in TIMED_STATUSES and record.duration_ms is not None:
            get_window().note_recorded(
                run_id, record.job_id, record.duration_ms, recorded_at, record.started_at
            )
        return run_id


def counter_updates(record: FinishedRun) -> dict:
    """Return the ``update()`` kwargs that count one finished record on its job."""
    if record.status == RunStatus.MISSED:
        return {"missed_count": F("missed_count") + 1}
    if record.status == RunStatus.SKIPPED:
        return {"skipped_count": F("skipped_count") + 1}
    updates = {
        "last_status": record.status,
        "last_run_at": record.started_at or record.finished_at,
        "last_duration_ms": record.duration_ms,
        "last_error": record.error,
    }
    if record.status in FAILED_STATUSES:
        updates["failure_count"] = F("failure_count") + 1
    else:
        updates["success_count"] = F("success_count") + 1
        updates["last_success_at"] = updates["last_run_at"]
    if record.duration_ms is not None:
        updates["duration_sum_ms"] = F("duration_sum_ms") + record.duration_ms
    return updates


def histogram_updates(job_pk: int, records: list[FinishedRun]) -> dict:
    """Return the ``update()`` kwargs that count the records' durations in the job's histogram.

    Call inside the write transaction: the row is locked while its buckets are recomputed, so
    two writers never lose each other's observations. Observed are exactly the durations that
    ``duration_sum_ms`` adds up, so the histogram's ``_sum`` and ``_count`` agree with it.
    """
    durations = [
        r.duration_ms
        for r in records
        if r.status not in (RunStatus.MISSED, RunStatus.SKIPPED) and r.duration_ms is not None
    ]
    if not durations:
        return {}
    current = locked_buckets(job_pk)
    return {
        "duration_buckets": histogram.observe(
            current or {}, conf.get("HISTOGRAM_BUCKETS"), durations
        )
    }


# -- the write path's statements ----------------------------------------------------------------
# The same statements the ORM would run, with their SQL built once per shape instead of
# compiled by the ORM on every run: compiling four queries cost more than running them
# (figure 1 of tests/benchmarks). Values still go through each field's get_db_prep_save.

_RUN_FIELDS = [f for f in JobRun._meta.concrete_fields if not f.primary_key]
_FINISH_FIELDS = [
    JobRun._meta.get_field(name)
    for name in (
        "status",
        "finished_at",
        "duration_ms",
        "error",
        "traceback",
        "measurements",
        "recorded_at",
    )
]
_sql_cache: dict[tuple, str] = {}


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _cached_sql(key: tuple, build: Callable[[], str]) -> str:
    key = (connection.vendor, *key)
    sql = _sql_cache.get(key)
    if sql is None:
        sql = _sql_cache[key] = build()
    return sql


def insert_run(run: JobRun) -> int:
    """INSERT one run row as ``run.save()`` would; return its id."""
    returning = connection.features.can_return_columns_from_insert

    def build() -> str:
        columns = ", ".join(_quote(f.column) for f in _RUN_FIELDS)
        values = ", ".join(["%s"] * len(_RUN_FIELDS))
        sql = f"INSERT INTO {_quote(JobRun._meta.db_table)} ({columns}) VALUES ({values})"
        return sql + (f" RETURNING {_quote('id')}" if returning else "")

    sql = _cached_sql(("insert_run", returning), build)
    params = [f.get_db_prep_save(f.pre_save(run, True), connection) for f in _RUN_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            return cursor.fetchone()[0]
        return connection.ops.last_insert_id(cursor, JobRun._meta.db_table, "id")


def finish_run(run_id: int, fields: dict) -> int:
    """Store a finished record on its running row, only if still running; return rows changed."""

    def build() -> str:
        sets = ", ".join(f"{_quote(f.column)} = %s" for f in _FINISH_FIELDS)
        return (
            f"UPDATE {_quote(JobRun._meta.db_table)} SET {sets} "
            f"WHERE {_quote('id')} = %s AND {_quote('status')} = %s"
        )

    sql = _cached_sql(("finish_run",), build)
    params = [f.get_db_prep_save(fields[f.name], connection) for f in _FINISH_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, run_id, RunStatus.RUNNING])
        return cursor.rowcount


def locked_buckets(job_pk: int) -> dict:
    """Read a job's stored histogram, locking its row until the transaction ends."""
    for_update = connection.features.has_select_for_update

    def build() -> str:
        sql = (
            f"SELECT {_quote('duration_buckets')} FROM {_quote(JobDefinition._meta.db_table)} "
            f"WHERE {_quote('id')} = %s"
        )
        return sql + (" FOR UPDATE" if for_update else "")

    sql = _cached_sql(("locked_buckets", for_update), build)
    with connection.cursor() as cursor:
        cursor.execute(sql, [job_pk])
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return {}
    value = row[0]
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _job_sets(updates: dict) -> tuple[tuple, list]:
    """Return the SET shape ``((column, is_increment), ...)`` and parameters of ``updates``."""
    opts = JobDefinition._meta
    shape = []
    params = []
    for name, value in updates.items():
        field = opts.get_field(name)
        if isinstance(value, CombinedExpression):
            # F(name) + number: the increment is done by the database, as the ORM does.
            if not (
                value.connector == "+"
                and isinstance(value.lhs, F)
                and value.lhs.name == name
                and isinstance(value.rhs, Value)
            ):
                raise TypeError(f"unsupported update expression for {name}: {value!r}")
            shape.append((field.column, True))
            params.append(field.get_db_prep_save(value.rhs.value, connection))
        else:
            shape.append((field.column, False))
            params.append(field.get_db_prep_save(value, connection))
    return tuple(shape), params


def _sets_sql(shape: tuple) -> str:
    return ", ".join(
        f"{_quote(c)} = {_quote(c)} + %s" if increment else f"{_quote(c)} = %s"
        for c, increment in shape
    )


def update_job(job_pk: int, updates: dict) -> int:
    """UPDATE a job row with ``updates`` (values, or ``F(field) + number`` increments)."""
    shape, params = _job_sets(updates)
    table = JobDefinition._meta.db_table

    def build() -> str:
        return f"UPDATE {_quote(table)} SET {_sets_sql(shape)} WHERE {_quote('id')} = %s"

    sql = _cached_sql(("update_job", *shape), build)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, job_pk])
        return cursor.rowcount


def finish_and_count_in_one_statement(job_pk: int, record: FinishedRun, fields: dict) -> bool:
    """PostgreSQL: finish the running row, count it and observe its duration in one statement.

    One statement is one transaction, so row and counters still change together, and it
    saves the BEGIN, the locked histogram read and the COMMIT round trips (figure 1). The
    run is finished only if it is still running AND the job's stored histogram already
    holds every configured bound; then observing a duration is exactly what
    ``histogram.observe`` does: +1 on every stored bound at or above it, and on ``+Inf``
    (bounds are never removed, so the condition cannot stop holding). False: nothing was
    changed, and the caller takes the general path.
    """
    if connection.vendor != "postgresql" or record.run_id is None:
        return False
    if record.status in (RunStatus.MISSED, RunStatus.SKIPPED) or record.duration_ms is None:
        return False
    keys = [*histogram._keys(tuple(conf.get("HISTOGRAM_BUCKETS"))), histogram.INF]
    shape, params = _job_sets(counter_updates(record))
    run_table, job_table = JobRun._meta.db_table, JobDefinition._meta.db_table

    def build() -> str:
        run_sets = ", ".join(f"{_quote(f.column)} = %s" for f in _FINISH_FIELDS)
        buckets = _quote("duration_buckets")
        return (
            f"WITH finished AS (UPDATE {_quote(run_table)} SET {run_sets} "
            f"WHERE id = %s AND status = %s AND EXISTS (SELECT 1 FROM {_quote(job_table)} "
            f"WHERE id = %s AND {buckets} ?& %s::text[]) RETURNING id) "
            f"UPDATE {_quote(job_table)} SET {_sets_sql(shape)}, {buckets} = "
            f"(SELECT jsonb_object_agg(key, CASE WHEN key = '+Inf' OR key::float8 >= %s "
            f"THEN value::bigint + 1 ELSE value::bigint END) FROM jsonb_each_text({buckets})) "
            f"WHERE id = %s AND EXISTS (SELECT 1 FROM finished)"
        )

    sql = _cached_sql(("finish_and_count", *shape), build)
    run_params = [f.get_db_prep_save(fields[f.name], connection) for f in _FINISH_FIELDS]
    # Inside a caller's transaction, a savepoint keeps a failure from breaking it.
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *run_params,
                record.run_id,
                RunStatus.RUNNING,
                job_pk,
                keys,
                *params,
                record.duration_ms / 1000.0,
                job_pk,
            ],
        )
        return cursor.rowcount == 1


recorder = Recorder()


def reset_recorder() -> Recorder:
    """Replace this process's recorder (tests, and after settings change)."""
    global recorder
    recorder = Recorder()
    return recorder


def get_recorder() -> Recorder:
    return recorder


def write_finished_runs(records: list[FinishedRun]) -> int:
    """Store many finished records at once (history import), counters included; return count.

    Same rows and counters as ``Recorder.write`` one by one, in one transaction.
    """
    if not records:
        return 0
    rec = get_recorder()
    recorded_at = timezone.now()
    rows = [
        JobRun(
            job_id=rec._job_pk(r.job_id),
            status=r.status,
            trigger=r.trigger,
            scheduled_at=r.scheduled_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            duration_ms=r.duration_ms,
            error=r.error,
            traceback=r.traceback,
            measurements=r.measurements,
            hostname=r.hostname,
            pid=r.pid,
            recorded_at=recorded_at,
        )
        for r in records
    ]
    by_job: dict[str, list[FinishedRun]] = {}
    for record in records:
        by_job.setdefault(record.job_id, []).append(record)
    with transaction.atomic():
        JobRun.objects.bulk_create(rows, batch_size=1000)
        for job_id, job_records in by_job.items():
            job_pk = rec._job_pk(job_id)
            JobDefinition.objects.filter(pk=job_pk).update(
                **bulk_counter_updates(job_records), **histogram_updates(job_pk, job_records)
            )
    # Rows may lack ids on some backends: let the window re-read them from the database.
    from scheduler_monitor.window import reset_window

    reset_window()
    return len(rows)


def bulk_counter_updates(records: list[FinishedRun]) -> dict:
    """Return the ``update()`` kwargs that count many finished records of one job."""
    executed = [r for r in records if r.status not in (RunStatus.MISSED, RunStatus.SKIPPED)]
    failures = sum(1 for r in executed if r.status in FAILED_STATUSES)
    updates = {
        "success_count": F("success_count") + (len(executed) - failures),
        "failure_count": F("failure_count") + failures,
        "missed_count": F("missed_count") + sum(1 for r in records if r.status == RunStatus.MISSED),
        "skipped_count": F("skipped_count")
        + sum(1 for r in records if r.status == RunStatus.SKIPPED),
        "duration_sum_ms": F("duration_sum_ms")
        + sum(r.duration_ms for r in executed if r.duration_ms is not None),
    }
    if executed:
        latest = max(executed, key=lambda r: r.started_at or r.finished_at)
        last = counter_updates(latest)
        updates.update({k: v for k, v in last.items() if k.startswith("last_")})
    successes = [r for r in executed if r.status == RunStatus.SUCCESS]
    if successes:
        updates["last_success_at"] = max(r.started_at or r.finished_at for r in successes)
    return updates
