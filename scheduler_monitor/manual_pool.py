"""The manual runs' own thread pool in the scheduler process (limits: manual_capacity.py).

Triggered runs execute here, never on the scheduled jobs' pool, and the scheduler claims a
pending trigger request only when a thread of this pool is free: a flood of triggers waits
in the database, not in front of the scheduled runs.
"""

import contextlib

from scheduler_monitor import conf
from scheduler_monitor.executors import ScheduledTimeExecutor

# The executor alias, distinct enough to sit beside a host scheduler's own executors.
MANUAL_EXECUTOR = "scheduler_monitor_manual"


class ManualRunExecutor(ScheduledTimeExecutor):
    """The manual runs' own thread pool; knows how many runs it has not finished."""

    def __init__(self, max_workers: int | None = None):
        self.max_workers = max_workers or conf.get("MANUAL_EXECUTOR_THREADS")
        super().__init__(self.max_workers)

    @property
    def unfinished(self) -> int:
        # BaseExecutor counts submitted runs per job until each one ends; its lock exists
        # once the scheduler started it.
        with self._lock or contextlib.nullcontext():
            return sum(self._instances.values())


def free_manual_slots(executor: ManualRunExecutor, *, scheduled_not_started: int) -> int:
    """How many more trigger requests the scheduler may claim now (0 when the pool is busy)."""
    return max(0, executor.max_workers - executor.unfinished - scheduled_not_started)


def claimable(scheduler, executor: ManualRunExecutor, *, jobstore: str) -> int:
    """Free slots, counting the manual runs already added to ``jobstore`` but not started."""
    added = scheduler.get_jobs(jobstore=jobstore)
    waiting = sum(1 for job in added if job.id.startswith("manual-"))
    return free_manual_slots(executor, scheduled_not_started=waiting)
