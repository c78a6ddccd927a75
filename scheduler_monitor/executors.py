"""A thread-pool executor that tells each run the time it was scheduled for.

APScheduler passes a job its arguments but not its scheduled time. Recording that time
lets lateness (start minus scheduled time) be measured apart from the run's duration.
"""

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
    """ThreadPoolExecutor whose runs can read ``current_scheduled_time()``."""

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
