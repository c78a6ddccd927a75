"""The write path: run a job, time it, store the run, bump counters, feed the window.

Recording never breaks a job. If the database cannot be written, the finished record waits
in a bounded in-memory buffer and is written when the database is back.
"""

import contextvars
import logging
import os
import threading
import time
import traceback as traceback_module
from collections.abc import Callable
from datetime import datetime

from django.db import DatabaseError, InterfaceError, close_old_connections, connection, transaction
from django.utils import timezone

from scheduler_monitor import conf, database_outages, record_retry
from scheduler_monitor.models import (
    TIMED_STATUSES,
    JobDefinition,
    JobRun,
    RunStatus,
    RunTrigger,
)
from scheduler_monitor.record_retry import RecordBuffer
from scheduler_monitor.record_sanitising import (
    CONNECTION_FAULT,
    clean_text,
    fault_of,
    sanitised,
)
from scheduler_monitor.run_writes import (
    HOSTNAME,
    FinishedRun,
    bulk_counter_updates,
    counter_updates,
    finish_and_count_in_one_statement,
    finish_run,
    histogram_updates,
    insert_run,
    update_job,
)
from scheduler_monitor.window import get_window, reset_window

logger = logging.getLogger(__name__)


DB_ERRORS = (DatabaseError, InterfaceError)


_current_measurements: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "scheduler_monitor_measurements", default=None
)


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


def _discard_broken_connection() -> None:
    record_retry.discard_broken_connection()


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
                first_line = clean_text(error.splitlines()[0][:500]) if error else ""
                logger.warning("Job %s failed: %s", job_id, first_line)
        finally:
            duration_ms = (time.perf_counter() - t0) * 1000.0
            _current_measurements.reset(token)
        record = sanitised(
            FinishedRun(
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
        """Write a finished record now, or buffer it if the database is unreachable.

        A record the database refuses for its content is stored reduced, never retried
        forever (record_retry); while older records wait, this one waits behind them.
        """
        record = sanitised(record)
        self.flush()
        if len(self.buffer):
            self.buffer.push(record)
            return
        outcome, kept = record_retry.store(self.write, record)
        if outcome in (record_retry.RETRY, record_retry.OUTAGE):
            logger.warning("Could not record run of %s; buffered", record.job_id)
            self.buffer.push(kept, attempts=int(outcome == record_retry.RETRY))

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
        except Exception as exc:  # noqa: BLE001 - the job runs anyway; its record comes later
            _discard_broken_connection()
            if fault_of(exc) == CONNECTION_FAULT:
                database_outages.note_unreachable(started_at)
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
                record.run_id, record.job_id, record.duration_ms, recorded_at
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
            get_window().note_recorded(run_id, record.job_id, record.duration_ms, recorded_at)
        return run_id


recorder = Recorder()


def reset_recorder() -> Recorder:
    """Replace this process's recorder (tests, and after settings change)."""
    global recorder
    recorder = Recorder()
    database_outages.reset()
    record_retry.reset()
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
    reset_window()
    return len(rows)
