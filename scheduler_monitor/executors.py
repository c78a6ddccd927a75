"""The one place where runs are recorded: a thread-pool executor that records every job.

Every run APScheduler hands to this executor goes through the recorder, whatever added the
job: ``@monitored_job`` (synced into the job store), the host's ``scheduler.add_job``,
django-apscheduler's ``@register_job``, or a job already sitting in ``DjangoJobStore``.
The run is recorded with its scheduled time (lateness = start minus scheduled time), and
APScheduler still gets the job's own outcome (its events and listeners are unchanged).
"""

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from django.utils import timezone

from scheduler_monitor import record_retry
from scheduler_monitor.discovery import get_discovery, is_declared_job, is_internal_job
from scheduler_monitor.models import RunStatus, RunTrigger
from scheduler_monitor.record_sanitising import clean_text
from scheduler_monitor.recording import DB_ERRORS, get_recorder

logger = logging.getLogger(__name__)
_local = threading.local()

# Manual runs of host jobs, by the id of their one-off APScheduler job: (job id, request id).
_manual_runs: dict[str, tuple[str, int]] = {}
_manual_lock = threading.Lock()


def current_scheduled_time() -> datetime | None:
    """The scheduled time of the run executing in this thread (UTC), if any."""
    return getattr(_local, "scheduled_at", None)


@dataclass(frozen=True)
class RunIdentity:
    """Which monitored job a run belongs to, how it was started, and its trigger request."""

    job_id: str
    trigger: str = RunTrigger.SCHEDULED
    request_id: int | None = None


def note_manual_run(apscheduler_id: str, job_id: str, request_id: int) -> None:
    """Say that the one-off job ``apscheduler_id`` is a manual run of ``job_id``."""
    with _manual_lock:
        _manual_runs[apscheduler_id] = (job_id, request_id)


def identify(job) -> RunIdentity | None:
    """The monitored job a scheduler job runs as; None for the app's internal jobs."""
    if is_internal_job(job):
        return None
    if is_declared_job(job):
        args = list(job.args)
        return RunIdentity(
            job_id=str(args[0]),
            trigger=args[1] if len(args) > 1 else RunTrigger.SCHEDULED,
            request_id=args[2] if len(args) > 2 else None,
        )
    with _manual_lock:
        manual = _manual_runs.pop(job.id, None)
    if manual is not None:
        return RunIdentity(job_id=manual[0], trigger=RunTrigger.MANUAL, request_id=manual[1])
    return RunIdentity(job_id=job.id)


class _RecordedJob:
    """The job as ``run_job`` sees it: the same job, its call going through the recorder."""

    def __init__(self, job, identity: RunIdentity, scheduled_at: datetime):
        self._job = job
        self._identity = identity
        self._scheduled_at = scheduled_at
        self.args = ()
        self.kwargs = {}

    def __getattr__(self, name):
        return getattr(self._job, name)

    def __str__(self):
        return str(self._job)

    def func(self):
        job, identity = self._job, self._identity
        outcome = {}

        def call():
            try:
                outcome["value"] = job.func(*job.args, **job.kwargs)
            except BaseException as exc:
                outcome["error"] = exc
                raise

        def link(run_id):
            if identity.request_id is not None:
                _trigger_request_link(identity.request_id, run_id)

        scheduled_at = self._scheduled_at
        if identity.trigger == RunTrigger.MANUAL:
            scheduled_at = timezone.now()
        record = None
        try:
            record = get_recorder().execute(
                identity.job_id,
                call,
                trigger=identity.trigger,
                scheduled_at=scheduled_at,
                on_start=link,
            )
        finally:
            if identity.request_id is not None:
                _trigger_request_finish(identity.request_id, record)
        if "error" in outcome:
            raise outcome["error"]  # APScheduler's own events see the job's failure
        return outcome.get("value")


def _trigger_request_link(request_id: int, run_id: int | None) -> None:
    from scheduler_monitor import job_control

    record_retry.guarded_write(
        f"the run link of trigger {request_id}",
        lambda: job_control.trigger_request_link_run(request_id=request_id, run_id=run_id),
    )


def _trigger_request_finish(request_id: int, record) -> None:
    """Store a trigger request's outcome: a connection fault retries it later, a refused
    error text is replaced (record_retry.guarded_write)."""
    from scheduler_monitor import job_control

    succeeded = record is not None and record.status == RunStatus.SUCCESS
    error = record.error if record is not None else "The run did not finish"

    def finish(text):
        return lambda: job_control.trigger_request_finish(
            request_id=request_id, succeeded=succeeded, error=text
        )

    record_retry.guarded_write(
        f"the outcome of trigger {request_id}",
        finish(clean_text(error)),
        fallback=finish("[scheduler_monitor: the database refused this error text]"),
    )


def _note_discovered(job) -> None:
    try:
        get_discovery().note_job(job)
    except DB_ERRORS as exc:  # the run is still recorded (or buffered) under its id
        logger.warning("Could not describe job %s: %s", job.id, exc)
    except Exception:  # noqa: BLE001 - describing a job must never stop it from running
        logger.exception("Could not describe job %s", job.id)


def run_job_recorded(job, jobstore_alias, run_times, logger_name):
    """APScheduler's ``run_job``, with each run recorded and its scheduled time noted."""
    identity = identify(job)
    if (
        identity is not None
        and identity.trigger == RunTrigger.SCHEDULED
        and not is_declared_job(job)
    ):
        _note_discovered(job)
    events = []
    for run_time in run_times:
        scheduled_at = run_time.astimezone(UTC)
        _local.scheduled_at = scheduled_at
        try:
            target = job if identity is None else _RecordedJob(job, identity, scheduled_at)
            events.extend(run_job(target, jobstore_alias, [run_time], logger_name))
        finally:
            _local.scheduled_at = None
    return events


class ScheduledTimeExecutor(ThreadPoolExecutor):
    """ThreadPoolExecutor that records every run and tells it ``current_scheduled_time()``.

    ``on_submit(job, run_times)``, if set, is called before each submission, while
    ``job.next_run_time`` is still the first due time (gaps.GapRecorder uses it).
    """

    on_submit = None

    def submit_job(self, job, run_times):
        if self.on_submit is not None:
            try:
                self.on_submit(job, run_times)
            except Exception:  # noqa: BLE001 - noticing a gap must never stop a run
                logger.exception("on_submit failed for %s", job.id)
        super().submit_job(job, run_times)

    def _do_submit_job(self, job, run_times):
        # As BasePoolExecutor._do_submit_job, with the run going through the recorder.
        def callback(future):
            exc = future.exception()
            if exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        future = self._pool.submit(
            run_job_recorded, job, job._jobstore_alias, run_times, self._logger.name
        )
        future.add_done_callback(callback)


RecordingExecutor = ScheduledTimeExecutor
