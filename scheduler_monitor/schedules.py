"""A job's effective schedule: what it declares, what was overridden at runtime, what applies.

A job's row keeps what it declares (``declared``) and what people changed at runtime
(the ``override_*`` columns); the plain columns (``schedule``, ``expected_interval_seconds``,
``grace_seconds``, ``max_runtime_seconds``, ``timeout_seconds``, ``retries``,
``retry_backoff_seconds``) always hold the effective value, so overdue detection, alerts,
the API and Prometheus follow an override at once. Pure functions of a row: the declaration
sync (jobs.py) and the override writes (schedule_overrides.py) both use them.
"""

from scheduler_monitor.models import JobDefinition
from scheduler_monitor.registry import JobSpec, describe_schedule, expected_interval_seconds

# API field -> override column.
OVERRIDE_COLUMNS = {
    "cron": "override_cron",
    "seconds": "override_seconds",
    "grace_seconds": "override_grace_seconds",
    "max_runtime_seconds": "override_max_runtime_seconds",
    "timeout_seconds": "override_timeout_seconds",
    "retries": "override_retries",
    "retry_backoff_seconds": "override_retry_backoff_seconds",
}
LIMIT_FIELDS = ("grace_seconds", "max_runtime_seconds", "timeout_seconds")


def declared_values(spec: JobSpec) -> dict:
    """What a declaration says, as kept in ``JobDefinition.declared``."""
    return {
        "cron": spec.cron or None,
        "seconds": spec.interval_seconds if not spec.cron else None,
        "schedule": spec.schedule,
        "expected_interval_seconds": spec.expected_interval_seconds,
        "grace_seconds": spec.grace_seconds,
        "max_runtime_seconds": spec.max_runtime_seconds,
        "timeout_seconds": spec.timeout_seconds,
        "retries": spec.retries,
        "retry_backoff_seconds": spec.retry_backoff_seconds,
    }


def declared_of(job: JobDefinition) -> dict:
    """The job's declared values; a row synced before overrides existed keeps its columns."""
    if job.declared:
        return job.declared
    return {
        "cron": None,
        "seconds": None,
        "schedule": job.schedule,
        "expected_interval_seconds": job.expected_interval_seconds,
        "grace_seconds": job.grace_seconds,
        "max_runtime_seconds": job.max_runtime_seconds,
        "timeout_seconds": job.timeout_seconds,
        "retries": job.retries,
        "retry_backoff_seconds": job.retry_backoff_seconds,
    }


def overrides_of(job: JobDefinition) -> dict:
    """The fields overridden on this job, by API name."""
    values = {name: getattr(job, column) for name, column in OVERRIDE_COLUMNS.items()}
    return {name: value for name, value in values.items() if value not in (None, "")}


def effective_values(declared: dict, overrides: dict) -> dict:
    """The effective columns of a job from its declaration and overrides."""
    cron, seconds = effective_trigger(declared, overrides)
    values = {
        "schedule": describe_schedule(cron=cron, seconds=seconds)
        if cron or seconds
        else declared.get("schedule", ""),
        "expected_interval_seconds": expected_interval_seconds(cron=cron, seconds=seconds)
        if cron or seconds
        else declared.get("expected_interval_seconds"),
    }
    for name in (*LIMIT_FIELDS, "retries", "retry_backoff_seconds"):
        values[name] = overrides.get(name, declared.get(name))
    values["retries"] = values["retries"] or 0
    values["retry_backoff_seconds"] = values["retry_backoff_seconds"] or 0.0
    return values


def effective_trigger(declared: dict, overrides: dict) -> tuple[str | None, float | None]:
    """(cron, seconds) of the trigger that applies: the override's, else the declared one."""
    if overrides.get("cron"):
        return overrides["cron"], None
    if overrides.get("seconds"):
        return None, float(overrides["seconds"])
    return declared.get("cron") or None, declared.get("seconds")
