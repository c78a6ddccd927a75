"""Incidents: firing alert rules become incidents that open once, remind, and resolve.

``incidents_evaluate`` runs in the active scheduler every ALERT_EVALUATION_INTERVAL seconds
(and, for the scheduler-down rule only, in ``check_scheduler_alerts --notify``). A rule
firing for a key opens one incident; it stays that incident while the rule keeps firing,
and resolves once the rule has been quiet for the rule's ``resolve_after`` evaluations.
Every change is one transaction that also writes its outbox messages, so a committed
change has its messages and a rolled-back one none.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.alert_rules import Alert, firing_alerts
from scheduler_monitor.audit import Actor, audit_record
from scheduler_monitor.models import (
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentState,
    JobDefinition,
    OutboxState,
)
from scheduler_monitor.notification_channels import channels_for, enabled_channels
from scheduler_monitor.notification_messages import render_message
from scheduler_monitor.outbox import outbox_enqueue
from scheduler_monitor.silences import Mutes, active_mutes, maintenance_runs_mark

logger = logging.getLogger(__name__)

FLIP_EVENTS = (IncidentEventKind.OPENED, IncidentEventKind.RESOLVED)
ERROR_LIMIT = 4000
PRUNE_BATCH = 500


@dataclass
class Evaluation:
    """What one evaluation changed."""

    at: datetime
    firing: int = 0
    opened: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)
    events: list[IncidentEvent] = field(default_factory=list)
    messages: int = 0


def incident_key(rule: str, job_id: str | None) -> str:
    """``rule:job_id`` for a job's rule, the rule's name for a scheduler-wide one."""
    return f"{rule}:{job_id}" if job_id else rule


class Notifier:
    """Decides, per incident change, whether and where messages go; writes the event."""

    def __init__(self, *, now: datetime, mutes: Mutes, channels: list):
        self.now = now
        self.mutes = mutes
        self.channels = channels
        self.threshold = conf.get("FLAPPING_THRESHOLD")
        self.queued = 0  # messages written to the outbox

    def record(
        self, incident: Incident, kind: str, *, actor: str = "", address=None, details=None
    ) -> IncidentEvent:
        """Add a timeline event and queue its messages (call inside the change's transaction)."""
        details = dict(details or {})
        event = IncidentEvent(
            incident=incident,
            kind=kind,
            at=self.now,
            actor=actor,
            address=address,
            details=details,
        )
        muted_by = self.mutes.covering(rule=incident.rule, job=incident.job)
        if muted_by is not None:
            details["muted_by"] = str(muted_by)
            event.save()
            return event
        if kind in FLIP_EVENTS and incident.job_id is not None:
            kind = self._flapping_instead(incident, kind, details)
            if kind is None:
                event.save()
                return event
        targets = channels_for(incident, self.channels)
        event.notified = bool(targets) and kind == event.kind
        event.save()
        notice = event
        if kind != event.kind:  # one flapping notice stands in for this flip's message
            notice = IncidentEvent.objects.create(
                incident=incident, kind=kind, at=self.now, details=details, notified=bool(targets)
            )
        for channel in targets:
            payload = render_message(incident, notice, channel.kind, channel.language)
            outbox_enqueue(
                channel=channel, incident=incident, event=notice, payload=payload, now=self.now
            )
        if targets:
            Incident.objects.filter(pk=incident.pk).update(last_notified_at=self.now)
            incident.last_notified_at = self.now
        self.queued += len(targets)
        return event

    def _flapping_instead(self, incident: Incident, kind: str, details: dict) -> str | None:
        """The kind to send for a flip: itself, FLAPPING (first time) or None (already told).

        Counts the flips of the key over the last hour, this one included.
        """
        hour_ago = self.now - timedelta(hours=1)
        recent = IncidentEvent.objects.filter(incident__key=incident.key, at__gte=hour_ago)
        flips = recent.filter(kind__in=FLIP_EVENTS).count() + 1
        details["flips"] = flips
        if flips <= self.threshold:
            return kind
        if recent.filter(kind=IncidentEventKind.FLAPPING).exists():
            details["suppressed"] = "flapping"
            return None
        return IncidentEventKind.FLAPPING


def incidents_evaluate(
    *,
    now: datetime | None = None,
    rules: list[dict] | None = None,
    alerts: list[Alert] | None = None,
) -> Evaluation:
    """Evaluate the rules (given ones only, else all) and open, keep or resolve incidents.

    With ``rules`` given, only incidents of those rules are kept or resolved.
    """
    now = now or timezone.now()
    rule_list = conf.alert_rules(rules)
    by_name = {rule["name"]: rule for rule in rule_list}
    if alerts is None:
        alerts = firing_alerts(now=now, rules=rules)
    firing: dict[str, Alert] = {}
    for alert in alerts:
        firing.setdefault(incident_key(alert.rule, alert.job_id), alert)
    open_incidents = Incident.objects.filter(state=IncidentState.OPEN).select_related("job")
    if rules is not None:
        open_incidents = open_incidents.filter(rule__in=list(by_name))
    open_by_key = {incident.key: incident for incident in open_incidents}
    job_ids = {alert.job_id for alert in firing.values() if alert.job_id}
    jobs = {job.job_id: job for job in JobDefinition.objects.filter(job_id__in=job_ids)}
    mutes = active_mutes(now=now)
    maintenance_runs_mark(mutes=mutes)
    notifier = Notifier(now=now, mutes=mutes, channels=enabled_channels())
    result = Evaluation(at=now, firing=len(firing))

    kept, changed = [], []
    for key, alert in firing.items():
        incident = open_by_key.pop(key, None)
        rule = by_name[alert.rule]
        job = jobs.get(alert.job_id) if alert.job_id else None
        if incident is None:
            opened = _open(notifier, key, alert, job, now)
            if opened is not None:
                result.opened.append(opened)
            continue
        kept.append(incident.pk)
        if _refresh(incident, alert, job):
            changed.append(incident)
        _follow_up(notifier, incident, rule, now)
    if kept:
        Incident.objects.filter(pk__in=kept).update(last_fired_at=now, quiet_evaluations=0)
    if changed:
        Incident.objects.bulk_update(changed, ["message", "numbers", "last_error", "severity"])

    quiet = list(open_by_key.values())
    if quiet:
        Incident.objects.filter(pk__in=[i.pk for i in quiet]).update(
            quiet_evaluations=F("quiet_evaluations") + 1
        )
    for incident in quiet:
        incident.quiet_evaluations += 1
        rule = by_name.get(incident.rule, conf.INCIDENT_RULE_PARAMS)
        if incident.quiet_evaluations >= rule["resolve_after"]:
            if _resolve(notifier, incident, now, kind=IncidentEventKind.RESOLVED):
                result.resolved.append(incident)
        else:
            _follow_up(notifier, incident, rule, now)
    result.messages = notifier.queued
    return result


def _open(notifier: Notifier, key: str, alert: Alert, job, now) -> Incident | None:
    """Open the key's incident; None when another evaluator opened it first."""
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                key=key,
                rule=alert.rule,
                kind=alert.kind,
                job=job,
                severity=alert.severity,
                message=alert.message,
                numbers=_numbers(alert),
                last_error=(job.last_error if job else "")[:ERROR_LIMIT],
                opened_at=now,
                last_fired_at=now,
            )
            incident.silenced = notifier.mutes.covering(rule=alert.rule, job=job) is not None
            if incident.silenced:
                Incident.objects.filter(pk=incident.pk).update(silenced=True)
            notifier.record(incident, IncidentEventKind.OPENED)
    except IntegrityError:
        # The one-open-incident-per-key constraint: someone else opened it meanwhile.
        logger.info("Incident %s was opened by another evaluator", key)
        return None
    return incident


def _numbers(alert: Alert) -> dict:
    return {"value": alert.value, "threshold": alert.threshold}


def _refresh(incident: Incident, alert: Alert, job) -> bool:
    """Copy the alert's latest figures onto the incident; True when something changed."""
    before = (incident.message, incident.numbers, incident.last_error, incident.severity)
    incident.message = alert.message
    incident.numbers = _numbers(alert)
    incident.severity = alert.severity
    if job is not None and job.last_error:
        incident.last_error = job.last_error[:ERROR_LIMIT]
    incident.quiet_evaluations = 0
    return before != (incident.message, incident.numbers, incident.last_error, incident.severity)


def _follow_up(notifier: Notifier, incident: Incident, rule: dict, now: datetime) -> None:
    """Track the silence flag (one message when a silence ends) and send due reminders."""
    muted = notifier.mutes.covering(rule=incident.rule, job=incident.job) is not None
    if muted != incident.silenced:
        with transaction.atomic():
            Incident.objects.filter(pk=incident.pk).update(silenced=muted)
            incident.silenced = muted
            if not muted:
                notifier.record(incident, IncidentEventKind.SILENCE_ENDED)
        return
    realert = rule.get("realert_interval")
    if not realert or muted or incident.acknowledged_at is not None:
        return
    last = incident.last_notified_at or incident.opened_at
    if now - last >= timedelta(seconds=realert):
        with transaction.atomic():
            notifier.record(incident, IncidentEventKind.REMINDER)
            # A reminder with no channel still counts, so it is not retried every cycle.
            Incident.objects.filter(pk=incident.pk).update(last_notified_at=now)
            incident.last_notified_at = now


def _resolve(
    notifier: Notifier, incident: Incident, now: datetime, *, kind: str, actor="", address=None
) -> bool:
    """Resolve an open incident (conditionally: False when it was resolved meanwhile)."""
    with transaction.atomic():
        done = Incident.objects.filter(pk=incident.pk, state=IncidentState.OPEN).update(
            state=IncidentState.RESOLVED, resolved_at=now, resolved_by=actor
        )
        if not done:
            return False
        incident.state = IncidentState.RESOLVED
        incident.resolved_at = now
        incident.resolved_by = actor
        notifier.record(incident, kind, actor=actor, address=address)
    return True


# --- manual actions (each leaves a timeline entry: who, when, from where) -----------------


class IncidentNotOpen(Exception):
    """The incident is resolved already."""


def _state(incident: Incident) -> dict:
    return {"state": incident.state, "acknowledged": incident.acknowledged_at is not None}


def incident_acknowledge(*, incident: Incident, actor: Actor) -> Incident:
    """Acknowledge an open incident (stops its reminders), with an audit entry.

    Raise IncidentNotOpen if it is resolved; acknowledging twice records nothing new.
    """
    now = timezone.now()
    before = _state(incident)
    with transaction.atomic():
        done = Incident.objects.filter(
            pk=incident.pk, state=IncidentState.OPEN, acknowledged_at__isnull=True
        ).update(acknowledged_at=now, acknowledged_by=actor.username)
        incident.refresh_from_db()
        if not done:
            if not incident.is_open:
                raise IncidentNotOpen(f"Incident {incident.pk} is resolved already")
            return incident  # acknowledged before: nothing new to record
        IncidentEvent.objects.create(
            incident=incident,
            kind=IncidentEventKind.ACKNOWLEDGED,
            at=now,
            actor=actor.username,
            address=actor.address or None,
        )
        _audit(actor, "incident_acknowledge", incident, before)
    return incident


def incident_resolve(*, incident: Incident, actor: Actor) -> Incident:
    """Resolve an open incident by hand (sends "resolved"), with an audit entry.

    Raise IncidentNotOpen if it is resolved already.
    """
    now = timezone.now()
    before = _state(incident)
    notifier = Notifier(now=now, mutes=active_mutes(now=now), channels=enabled_channels())
    with transaction.atomic():
        if not _resolve(
            notifier,
            incident,
            now,
            kind=IncidentEventKind.MANUALLY_RESOLVED,
            actor=actor.username,
            address=actor.address or None,
        ):
            raise IncidentNotOpen(f"Incident {incident.pk} is resolved already")
        _audit(actor, "incident_resolve", incident, before)
    return incident


def _audit(actor: Actor, action: str, incident: Incident, before: dict) -> None:
    audit_record(
        actor=actor,
        action=action,
        job=incident.job,
        before=before,
        after=_state(incident),
        target=f"incident {incident.pk}",
    )


def incident_list(
    *,
    open_only: bool | None = None,
    job_id: str | None = None,
    rule: str | None = None,
    since: datetime | None = None,
):
    """Incidents newest first, filtered (``open_only`` False: resolved ones only)."""
    incidents = Incident.objects.select_related("job")
    if open_only is not None:
        state = IncidentState.OPEN if open_only else IncidentState.RESOLVED
        incidents = incidents.filter(state=state)
    if job_id:
        incidents = incidents.filter(job__job_id=job_id)
    if rule:
        incidents = incidents.filter(rule=rule)
    if since is not None:
        incidents = incidents.filter(opened_at__gte=since)
    return incidents


def open_incidents():
    return incident_list(open_only=True).order_by("severity", "opened_at")  # "critical" < "warning"


def incidents_prune(*, days: int, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete incidents resolved more than ``days`` days ago, with their timelines and messages.

    Open incidents stay, and so do resolved ones with a message still waiting to be sent.
    Return how many incidents (would) go.
    """
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = Incident.objects.filter(state=IncidentState.RESOLVED, resolved_at__lt=cutoff).exclude(
        messages__state=OutboxState.PENDING
    )
    if dry_run:
        return old.count()
    ids = list(old.values_list("pk", flat=True))
    for first in range(0, len(ids), PRUNE_BATCH):  # short transactions; SQLite's bound limit
        Incident.objects.filter(pk__in=ids[first : first + PRUNE_BATCH]).delete()
    return len(ids)
