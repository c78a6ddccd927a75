"""Silences and maintenance windows: which mutes are active, what they cover, marked runs.

A silence stops notifications, never evaluation: incidents still open and resolve while
muted, and show as silenced. A maintenance window is a recurring silence whose times are
read in its own time zone (so "Saturday 02:00 Europe/Berlin" follows daylight saving).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scheduler_monitor.audit import SYSTEM, Actor, audit_record
from scheduler_monitor.models import (
    JobRun,
    MaintenanceWindow,
    Silence,
    SilenceScope,
)


def window_validate(window: MaintenanceWindow) -> None:
    """Raise ValidationError unless the window has exactly one valid schedule and time zone."""
    try:
        ZoneInfo(window.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError({"timezone": f"Unknown time zone {window.timezone!r}"}) from exc
    if bool(window.cron) == bool(window.weekdays or window.start_time):
        raise ValidationError("Give either a cron expression or weekdays with a start time.")
    if window.cron:
        try:
            CronTrigger.from_crontab(window.cron)
        except ValueError as exc:
            raise ValidationError({"cron": f"Not a crontab expression: {exc}"}) from exc
    else:
        days = window.weekdays
        if (
            not isinstance(days, list)
            or not days
            or not all(isinstance(d, int) and 0 <= d <= 6 for d in days)
        ):
            raise ValidationError({"weekdays": "A list of days, 0 (Monday) to 6 (Sunday)."})
        if window.start_time is None:
            raise ValidationError({"start_time": "Weekly windows need a start time."})
    if not window.duration_minutes:
        raise ValidationError({"duration_minutes": "A window lasts at least one minute."})
    if window.scope != SilenceScope.ALL and not window.value:
        raise ValidationError({"value": "Name the job, category or rule to mute."})


def window_start_covering(window: MaintenanceWindow, at: datetime) -> datetime | None:
    """The start (UTC) of the window's occurrence that covers ``at``, or None."""
    tz = ZoneInfo(window.timezone)
    duration = timedelta(minutes=window.duration_minutes)
    if window.cron:
        trigger = CronTrigger.from_crontab(window.cron, timezone=tz)
        # The first start at or after (at - duration) that has not ended by ``at``.
        start = trigger.get_next_fire_time(None, (at - duration).astimezone(tz))
        if start is not None and start + duration <= at:
            start = trigger.get_next_fire_time(start, start + timedelta(microseconds=1))
        return start.astimezone(UTC) if start is not None and start <= at else None
    local = at.astimezone(tz)
    for days_back in range(duration.days + 2):
        day = local.date() - timedelta(days=days_back)
        if day.weekday() not in window.weekdays:
            continue
        start = datetime.combine(day, window.start_time, tzinfo=tz)
        if start <= at < start + duration:
            return start.astimezone(UTC)
    return None


@dataclass
class Mutes:
    """The silences and maintenance windows active at one moment."""

    at: datetime
    silences: list[Silence] = field(default_factory=list)
    windows: list[tuple[MaintenanceWindow, datetime]] = field(default_factory=list)

    def covering(self, *, rule: str, job) -> Silence | MaintenanceWindow | None:
        """The first silence or window that mutes ``rule`` on ``job`` (None: not muted)."""
        for silence in self.silences:
            if silence.mutes(rule=rule, job=job):
                return silence
        for window, _start in self.windows:
            if window.mutes(rule=rule, job=job):
                return window
        return None


def active_mutes(*, now: datetime | None = None) -> Mutes:
    """Read the silences and windows active ``now`` (two queries)."""
    now = now or timezone.now()
    silences = list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))
    windows = []
    for window in MaintenanceWindow.objects.filter(enabled=True):
        start = window_start_covering(window, now)
        if start is not None:
            windows.append((window, start))
    return Mutes(at=now, silences=silences, windows=windows)


def maintenance_runs_mark(*, mutes: Mutes) -> int:
    """Mark the runs started inside the active windows (so far) as ``in_maintenance``."""
    marked = 0
    for window, start in mutes.windows:
        runs = JobRun.objects.filter(started_at__gte=start, in_maintenance=False)
        if window.scope == SilenceScope.JOB:
            runs = runs.filter(job__job_id=window.value)
        elif window.scope == SilenceScope.CATEGORY:
            runs = runs.filter(job__category=window.value)
        elif window.scope == SilenceScope.RULE:
            continue  # a rule is not a set of runs
        marked += runs.update(in_maintenance=True)
    return marked


def silence_create(
    *,
    scope: str,
    value: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime,
    reason: str = "",
    actor: Actor = SYSTEM,
) -> Silence:
    """Create a silence after checking it, with an audit entry; raise ValidationError if bad."""
    starts_at = starts_at or timezone.now()
    if scope not in SilenceScope.values:
        raise ValidationError({"scope": f"One of {', '.join(SilenceScope.values)}."})
    if scope != SilenceScope.ALL and not value:
        raise ValidationError({"value": "Name the job, category or rule to silence."})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "The silence must end after it starts."})
    with transaction.atomic():
        silence = Silence.objects.create(
            scope=scope,
            value="" if scope == SilenceScope.ALL else value,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            created_by=actor.username,
            created_from=actor.address or None,
        )
        audit_record(
            actor=actor,
            action="silence_create",
            after=silence_snapshot(silence),
            target=f"silence {silence.pk}",
        )
    return silence


def silence_snapshot(silence: Silence) -> dict:
    """What an audit entry keeps of a silence."""
    return {
        "scope": silence.scope,
        "value": silence.value,
        "starts_at": silence.starts_at.isoformat() if silence.starts_at else None,
        "ends_at": silence.ends_at.isoformat() if silence.ends_at else None,
        "reason": silence.reason,
    }


def silence_list(*, include_past: bool = False, active_now: bool = False):
    """Silences current or still to come (``include_past``: all; ``active_now``: current)."""
    now = timezone.now()
    found = Silence.objects.all()
    if active_now:
        return found.filter(starts_at__lte=now, ends_at__gt=now)
    if not include_past:
        found = found.filter(ends_at__gt=now)
    return found
