"""Schedules changed at runtime: overrides stored beside the declared schedule (schedules.py).

Changes are validated first (a bad value changes nothing), written with an audit entry, and
reflected in the effective columns at once. The active scheduler applies a changed
trigger within one maintenance step (``job_schedules_apply``) and builds every job from the
effective trigger at start, so an override outlives restarts and failovers.
"""

import logging
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scheduler_monitor import conf, job_control
from scheduler_monitor.audit import Actor, audit_record
from scheduler_monitor.models import JobDefinition, JobSource
from scheduler_monitor.registry import MAX_RETRIES, build_trigger, describe_schedule
from scheduler_monitor.run_limits import RunLimits
from scheduler_monitor.schedules import (
    LIMIT_FIELDS,
    OVERRIDE_COLUMNS,
    declared_of,
    effective_trigger,
    effective_values,
    overrides_of,
)

logger = logging.getLogger(__name__)

NEXT_FIRE_TIMES = 5


class ScheduleInvalid(ValueError):
    """A schedule change that cannot apply; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


MAX_SECONDS = 366 * 86400  # a year: APScheduler's arithmetic overflows on huge intervals
MIN_INTERVAL_SECONDS = 1


def _number(field: str, value, *, minimum: float = 0.0, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScheduleInvalid(field, "must be a number of seconds")
    if value < minimum or (strict and value == minimum) or value != value:
        raise ScheduleInvalid(field, f"must be {'>' if strict else '>='} {minimum:g}")
    if value > MAX_SECONDS:
        raise ScheduleInvalid(field, f"must be at most {MAX_SECONDS} (a year)")
    return float(value)


def validate_changes(changes: dict) -> dict:
    """Check a change request; return {api field: value or None (clear)}."""
    if not isinstance(changes, dict):
        raise ScheduleInvalid(
            "non_field_errors", f"give an object of {', '.join(OVERRIDE_COLUMNS)}"
        )
    unknown = sorted(set(changes) - set(OVERRIDE_COLUMNS))
    if unknown:
        raise ScheduleInvalid(unknown[0], f"unknown field; known: {', '.join(OVERRIDE_COLUMNS)}")
    clean = {}
    for name, value in changes.items():
        if value is None:
            clean[name] = None
        elif name == "cron":
            if not isinstance(value, str) or not value.strip():
                raise ScheduleInvalid("cron", "must be a crontab expression such as */5 * * * *")
            try:
                build_trigger(cron=value.strip(), seconds=None, timezone=settings.TIME_ZONE)
            except (ValueError, TypeError) as exc:
                raise ScheduleInvalid("cron", f"not a valid crontab expression: {exc}") from exc
            clean[name] = " ".join(value.split())
        elif name == "retries":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScheduleInvalid("retries", "must be an integer")
            if not 0 <= value <= MAX_RETRIES:
                raise ScheduleInvalid("retries", f"must be between 0 and {MAX_RETRIES}")
            clean[name] = value
        elif name == "retry_backoff_seconds":
            clean[name] = _number(name, value, strict=False)
        elif name == "seconds":
            clean[name] = _number(name, value, minimum=MIN_INTERVAL_SECONDS, strict=False)
        else:
            clean[name] = _number(name, value)
    if clean.get("cron") and clean.get("seconds"):
        raise ScheduleInvalid("cron", "give cron or seconds, not both")
    return clean


def _snapshot(job: JobDefinition) -> dict:
    """The values an audit entry shows before and after a change."""
    values = {
        name: getattr(job, name)
        for name in ("schedule", *LIMIT_FIELDS, "retries", "retry_backoff_seconds")
    }
    return {**values, "overrides": overrides_of(job)}


def _apply(job: JobDefinition, overrides: dict, actor: Actor | None, action: str) -> None:
    before = _snapshot(job)
    declared = declared_of(job)
    for name, column in OVERRIDE_COLUMNS.items():
        value = overrides.get(name)
        setattr(job, column, "" if name == "cron" and value is None else value)
    job.declared = declared
    for name, value in effective_values(declared, overrides).items():
        setattr(job, name, value)
    job.overridden_at = timezone.now() if overrides else None
    job.save()
    if actor is not None:
        audit_record(actor=actor, action=action, job=job, before=before, after=_snapshot(job))


def _existing_job(job_id: str, *, lock: bool = False) -> JobDefinition:
    jobs = JobDefinition.objects.filter(job_id=job_id, removed=False)
    job = (jobs.select_for_update() if lock else jobs).first()
    if job is None:
        raise job_control.JobNotFound(f"job {job_id!r} does not exist or is no longer declared")
    return job


def _locked_job(job_id: str) -> JobDefinition:
    return _existing_job(job_id, lock=True)


def job_schedule_update(*, job_id: str, changes: dict, actor: Actor | None) -> JobDefinition:
    """Override some of a job's schedule fields (None clears that field's override).

    Validation comes first: a bad value changes nothing. Setting ``cron`` replaces an
    interval override and the other way round.
    """
    clean = validate_changes(changes)
    if not clean:  # nothing to change (an empty PATCH): no write, no audit entry
        return _existing_job(job_id)
    with transaction.atomic():
        job = _locked_job(job_id)
        overrides = overrides_of(job)
        if clean.get("cron"):
            overrides.pop("seconds", None)
        if clean.get("seconds"):
            overrides.pop("cron", None)
        for name, value in clean.items():
            if value is None:
                overrides.pop(name, None)
            else:
                overrides[name] = value
        owned_by_host = {"cron", "seconds", "retries"} & set(clean)
        if job.source != JobSource.DECLARED and owned_by_host:
            # The host's own scheduler job: its trigger is never rewritten, and only
            # declared jobs are retried, so such an override would silently not apply.
            raise ScheduleInvalid(
                sorted(owned_by_host)[0],
                "only jobs declared with @monitored_job can change their schedule or retries",
            )
        cron, seconds = effective_trigger(declared_of(job), overrides)
        if not (cron or seconds) and ("cron" in clean or "seconds" in clean):
            raise ScheduleInvalid("cron", "the job declares no schedule; give cron or seconds")
        _apply(job, overrides, actor, "schedule_change")
    return job


def job_schedule_reset(*, job_id: str, actor: Actor | None) -> JobDefinition:
    """Drop every override: the job runs on its declared schedule and limits again."""
    with transaction.atomic():
        job = _locked_job(job_id)
        _apply(job, {}, actor, "schedule_reset")
    return job


def next_fire_times(
    job: JobDefinition, *, count: int = NEXT_FIRE_TIMES, now: datetime | None = None
) -> list[datetime]:
    """The next ``count`` fire times of the job's effective trigger."""
    cron, seconds = effective_trigger(declared_of(job), overrides_of(job))
    if not (cron or seconds):
        return []
    trigger = build_trigger(cron=cron, seconds=seconds, timezone=settings.TIME_ZONE)
    now = now or timezone.now()
    times, previous, moment = [], None, now
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None:
            break
        times.append(fire)
        previous, moment = fire, fire + timedelta(microseconds=1)
    return times


# --- the scheduler's side ------------------------------------------------------------------


def job_triggers_and_limits() -> tuple[dict, dict]:
    """Every declared job's effective (cron, seconds) and run limits, in one query."""
    triggers, limits = {}, {}
    default_timeout = conf.get("DEFAULT_TIMEOUT_SECONDS")
    for job in JobDefinition.objects.filter(removed=False).only(
        "job_id",
        "declared",
        "timeout_seconds",
        "retries",
        "retry_backoff_seconds",
        *OVERRIDE_COLUMNS.values(),
    ):
        triggers[job.job_id] = effective_trigger(declared_of(job), overrides_of(job))
        limits[job.job_id] = RunLimits(
            timeout_seconds=job.timeout_seconds or default_timeout,
            retries=job.retries,
            retry_backoff_seconds=job.retry_backoff_seconds,
        )
    return triggers, limits


def job_schedules_apply(*, scheduler, applied: dict, triggers: dict) -> list[str]:
    """Give the running scheduler's jobs the effective trigger where it changed.

    ``applied`` maps the job ids this scheduler registered to the (cron, seconds) it gave
    them; it is updated in place. A paused job gets the new trigger and stays paused.
    """
    changed = []
    for job_id, key in triggers.items():
        if job_id not in applied or applied[job_id] == key or not any(key):
            continue
        cron, seconds = key
        trigger = build_trigger(cron=cron, seconds=seconds, timezone=settings.TIME_ZONE)
        try:
            job = scheduler.get_job(job_id, jobstore="default")
            if job is None:
                continue
            if job.next_run_time is None:
                scheduler.modify_job(job_id, jobstore="default", trigger=trigger)
            else:
                scheduler.reschedule_job(job_id, jobstore="default", trigger=trigger)
        except JobLookupError:
            continue
        applied[job_id] = key
        changed.append(job_id)
        logger.info("Job %s now runs %s", job_id, describe_schedule(cron=cron, seconds=seconds))
    return changed
