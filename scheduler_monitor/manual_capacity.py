"""Bounded capacity for manual runs, so triggers can never starve scheduled work.

Two limits, both from ``SCHEDULER_MONITOR``:

- where a trigger is asked for (API, batch, dashboard, admin): at most
  ``MANUAL_MAX_PER_JOB`` manual runs of one job and ``MANUAL_MAX_TOTAL`` of all jobs
  queued or running at once; one more is refused with a ``Retry-After`` estimate (HTTP 429);
- in the scheduler process (``manual_pool.py``): manual runs execute on their own small
  thread pool (``MANUAL_EXECUTOR_THREADS``), and the scheduler claims a pending request only
  when a thread of that pool is free, so the scheduled jobs' pool never queues behind them.
"""

import math
from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.models import JobDefinition, RunStatus, TriggerRequest, TriggerStatus

# A claimed request without a run this long after its pick-up was lost with its scheduler.
LOST_AFTER = timedelta(minutes=10)
# Any one lock key of our own for pg_advisory_xact_lock: "scheduler_monitor triggers".
TRIGGER_LOCK_KEY = 0x5343_4D54
RETRY_AFTER_MAX = 3600


class TriggerLimitReached(RuntimeError):
    """As many manual runs as allowed are queued or running; ask again after a while."""

    def __init__(self, message: str, *, scope: str, limit: int, retry_after: int):
        super().__init__(f"{message}; try again in {retry_after} s")
        self.scope = scope  # "job" or "total"
        self.limit = limit
        self.retry_after = retry_after

    def as_dict(self) -> dict:
        return {"scope": self.scope, "limit": self.limit, "retry_after": self.retry_after}


def manual_runs_in_flight():
    """Trigger requests that hold a place: pending, or claimed and not finished.

    A claimed request whose run ended without finishing it (its scheduler died: the run
    is abandoned) or that never got a run within ``LOST_AFTER`` holds no place any more.
    """
    lost_before = timezone.now() - LOST_AFTER
    return TriggerRequest.objects.filter(
        Q(status=TriggerStatus.PENDING)
        | Q(status=TriggerStatus.RUNNING, run__status=RunStatus.RUNNING)
        | Q(status=TriggerStatus.RUNNING, run__isnull=True, picked_at__gte=lost_before)
    )


def _retry_after(job: JobDefinition, queued_ahead: int) -> int:
    """Seconds until a place is likely free: the queue ahead at the job's last duration."""
    threads = conf.get("MANUAL_EXECUTOR_THREADS")
    run_seconds = (job.last_duration_ms or 1000) / 1000
    rounds = math.ceil(max(queued_ahead, 1) / threads)
    seconds = conf.get("TRIGGER_POLL_INTERVAL") + rounds * run_seconds
    return max(1, min(RETRY_AFTER_MAX, math.ceil(seconds)))


def check_trigger_capacity(*, job: JobDefinition) -> None:
    """Raise TriggerLimitReached when one more manual run of ``job`` would pass a limit.

    Call it inside the transaction that creates the request. The job's row lock (taken by
    the caller) orders triggers of one job; on PostgreSQL a transaction-scoped advisory
    lock orders triggers of different jobs too, so the total cannot be overshot. (SQLite
    writes one transaction at a time anyway.)
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TRIGGER_LOCK_KEY])
    in_flight = manual_runs_in_flight()
    per_job = conf.get("MANUAL_MAX_PER_JOB")
    of_job = in_flight.filter(job=job).count()
    if of_job >= per_job:
        raise TriggerLimitReached(
            f"job {job.job_id!r} already has {of_job} manual run(s) queued or running "
            f"(at most {per_job})",
            scope="job",
            limit=per_job,
            retry_after=_retry_after(job, of_job - per_job + 1),
        )
    total_limit = conf.get("MANUAL_MAX_TOTAL")
    total = in_flight.count()
    if total >= total_limit:
        raise TriggerLimitReached(
            f"{total} manual runs are queued or running (at most {total_limit} at once)",
            scope="total",
            limit=total_limit,
            retry_after=_retry_after(job, total - total_limit + 1),
        )
