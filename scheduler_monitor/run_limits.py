"""What bounds each job's runs in this scheduler process: time limit and retries.

The scheduler refreshes these every maintenance step from the jobs' effective values
(schedule_overrides.job_triggers_and_limits), so an override applies to the next run; the
executor reads them for every run it records.
"""

from dataclasses import dataclass

from scheduler_monitor import conf
from scheduler_monitor.registry import registry


@dataclass(frozen=True)
class RunLimits:
    """A job's time limit (None: none) and its retries of a failed run."""

    timeout_seconds: float | None = None
    retries: int = 0
    retry_backoff_seconds: float = 0.0


_limits: dict[str, RunLimits] = {}


def run_limits_set(limits: dict[str, RunLimits]) -> None:
    """Replace every job's limits (one dict swap: readers never see a half-filled one)."""
    global _limits
    _limits = dict(limits)


def run_limits_of(job_id: str) -> RunLimits:
    """The job's limits; before the first refresh, its declaration's (or the defaults)."""
    limits = _limits.get(job_id)
    if limits is not None:
        return limits
    default_timeout = conf.get("DEFAULT_TIMEOUT_SECONDS")
    spec = registry.get(job_id)
    if spec is None:
        return RunLimits(timeout_seconds=default_timeout)
    return RunLimits(
        timeout_seconds=spec.timeout_seconds or default_timeout,
        retries=spec.retries,
        retry_backoff_seconds=spec.retry_backoff_seconds,
    )
