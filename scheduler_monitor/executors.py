"""A thread-pool executor that tells each run the time it was scheduled for.

APScheduler passes a job its arguments but not its scheduled time. Recording that time
lets lateness (start minus scheduled time) be measured apart from the run's duration.
"""

import logging
import threading
from datetime import UTC, datetime

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor

_local = threading.local()


def current_scheduled_time() -> datetime | None:
    """The scheduled time of the run executing in this thread (UTC), if any."""
    return getattr(_local, "scheduled_at", None)


def _run_job_noting_time(job, jobstore_alias, run_times, logger_name):
    events = []
    for run_time in run_times:
        _local.scheduled_at = run_time.astimezone(UTC)
        try:
            events.extend(run_job(job, jobstore_alias, [run_time], logger_name))
        finally:
            _local.scheduled_at = None
    return events


class ScheduledTimeExecutor(ThreadPoolExecutor):
    """ThreadPoolExecutor whose runs can read ``current_scheduled_time()``.

    ``on_submit(job, run_times)``, if set, is called before each submission, while
    ``job.next_run_time`` is still the first due time (gaps.GapRecorder uses it).
    """

    on_submit = None

    def submit_job(self, job, run_times):
        if self.on_submit is not None:
            try:
                self.on_submit(job, run_times)
            except Exception:  # noqa: BLE001 - noticing a gap must never stop a run
                logging.getLogger(__name__).exception("on_submit failed for %s", job.id)
        super().submit_job(job, run_times)

    def _do_submit_job(self, job, run_times):
        # As BasePoolExecutor._do_submit_job, with the run wrapped to note its time.
        def callback(future):
            exc = future.exception()
            if exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        future = self._pool.submit(
            _run_job_noting_time, job, job._jobstore_alias, run_times, self._logger.name
        )
        future.add_done_callback(callback)
