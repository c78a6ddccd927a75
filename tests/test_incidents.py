"""Incidents: open once per key, resolve after quiet evaluations, remind, flap, ack, resolve."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.audit import Actor
from scheduler_monitor.incidents import (
    IncidentNotOpen,
    incident_acknowledge,
    incident_key,
    incident_resolve,
    incidents_evaluate,
    incidents_prune,
)
from scheduler_monitor.models import (
    AuditEntry,
    Incident,
    IncidentEvent,
    IncidentState,
    NotificationChannel,
    OutboxMessage,
    RunStatus,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
F, S = RunStatus.FAILURE, RunStatus.SUCCESS
RULES = [{"name": "failing", "kind": "consecutive_failures", "count": 2, "severity": "critical"}]

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def channel():
    return NotificationChannel.objects.create(name="ops", kind="email", target="ops@example.com")


@pytest.fixture
def failing_job(make_job, record_run, clock):
    job = make_job(job_id="sync_jira", name="Sync Jira")
    for minutes in (3, 2):
        record_run(
            job,
            status=F,
            started_at=NOW - timedelta(minutes=minutes),
            error="Traceback...\nConnectionError: jira.example.com timed out",
        )
    return job


def evaluate(clock, rules=RULES, step=timedelta(seconds=15), **kwargs):
    clock.shift(step)
    return incidents_evaluate(rules=rules, **kwargs)


def message_events(incident=None):
    messages = OutboxMessage.objects.order_by("pk")
    if incident is not None:
        messages = messages.filter(incident=incident)
    return [m.event.kind for m in messages]


def test_a_firing_rule_opens_one_incident_with_its_numbers_and_error(failing_job, channel, clock):
    """The first evaluation opens it (one message); the next ones keep it (no message)."""
    first = evaluate(clock)
    evaluate(clock)
    evaluate(clock)
    incident = Incident.objects.get()
    assert [i.pk for i in first.opened] == [incident.pk]
    assert incident.key == "failing:sync_jira" == incident_key("failing", "sync_jira")
    assert (incident.state, incident.severity, incident.job) == ("open", "critical", failing_job)
    assert incident.numbers == {"value": 2, "threshold": 2}
    assert incident.last_error.endswith("ConnectionError: jira.example.com timed out")
    assert incident.opened_at == NOW + timedelta(seconds=15)
    assert incident.last_fired_at == NOW + timedelta(seconds=45)
    assert message_events() == ["opened"]
    assert [e.kind for e in incident.events.all()] == ["opened"]


def test_it_resolves_after_resolve_after_quiet_evaluations(failing_job, channel, record_run, clock):
    """Two quiet evaluations by default: the first keeps it open, the second resolves it."""
    evaluate(clock)
    record_run(failing_job, status=S, started_at=NOW + timedelta(seconds=20))
    evaluate(clock)
    assert Incident.objects.get().state == IncidentState.OPEN
    assert Incident.objects.get().quiet_evaluations == 1
    result = evaluate(clock)
    incident = Incident.objects.get()
    assert [i.pk for i in result.resolved] == [incident.pk]
    assert (incident.state, incident.resolved_at) == ("resolved", NOW + timedelta(seconds=45))
    assert message_events() == ["opened", "resolved"]


def test_a_rule_firing_again_before_resolve_after_keeps_the_incident(
    failing_job, channel, record_run, clock
):
    """Quiet once, then firing again: still the same incident and no new message."""
    rules = [{**RULES[0], "resolve_after": 3}]
    evaluate(clock, rules)
    record_run(failing_job, status=S, started_at=NOW + timedelta(seconds=20))
    evaluate(clock, rules)
    evaluate(clock, rules)
    for seconds in (50, 51):
        record_run(failing_job, status=F, started_at=NOW + timedelta(seconds=seconds))
    evaluate(clock, rules)
    incident = Incident.objects.get()
    assert (incident.state, incident.quiet_evaluations) == ("open", 0)
    assert message_events() == ["opened"]


def test_it_reminds_after_realert_interval_and_not_once_acknowledged(failing_job, channel, clock):
    """realert_interval 60 s: a reminder after a minute, none after an acknowledgement."""
    rules = [{**RULES[0], "realert_interval": 60}]
    evaluate(clock, rules)
    for _ in range(3):
        evaluate(clock, rules)  # 45 s after opening: not yet
    assert message_events() == ["opened"]
    evaluate(clock, rules)  # 60 s
    assert message_events() == ["opened", "reminder"]
    for _ in range(3):
        evaluate(clock, rules)
    assert message_events() == ["opened", "reminder"]
    incident_acknowledge(
        incident=Incident.objects.get(), actor=Actor(user=None, name="alice", address="10.0.0.7")
    )
    for _ in range(8):
        evaluate(clock, rules)
    assert message_events() == ["opened", "reminder"]
    ack = IncidentEvent.objects.get(kind="acknowledged")
    assert (ack.actor, ack.address, ack.notified) == ("alice", "10.0.0.7", False)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.username, entry.address) == (
        "incident_acknowledge",
        "alice",
        "10.0.0.7",
    )
    assert (entry.before, entry.after) == (
        {"state": "open", "acknowledged": False},
        {"state": "open", "acknowledged": True},
    )


def test_it_sends_no_reminder_without_realert_interval(failing_job, channel, clock):
    evaluate(clock)
    evaluate(clock, step=timedelta(hours=5))
    assert message_events() == ["opened"]


def test_a_flapping_key_sends_one_flapping_notice_instead_of_each_flip(
    settings, make_job, channel, clock
):
    """Threshold 3 flips an hour: flips 1-3 send, the 4th sends one notice, later ones none."""
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "FLAPPING_THRESHOLD": 3}
    job = make_job(job_id="flaky")
    alert = Alert(
        rule="failing",
        kind="consecutive_failures",
        severity="critical",
        message="the last 2 runs failed",
        job_id="flaky",
        job_name=job.name,
    )
    rules = [{**RULES[0], "resolve_after": 1}]
    for _ in range(4):  # open, resolve, open, resolve ... eight flips
        evaluate(clock, rules, alerts=[alert])
        evaluate(clock, rules, alerts=[])
    assert message_events() == ["opened", "resolved", "opened", "flapping"]
    assert Incident.objects.count() == 4
    notice = OutboxMessage.objects.get(event__kind="flapping")
    assert "4 state changes in the last hour" in notice.payload["text"]
    flips = IncidentEvent.objects.filter(kind__in=["opened", "resolved"]).count()
    assert flips == 8


def test_flips_older_than_an_hour_do_not_count(settings, make_job, channel, clock):
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "FLAPPING_THRESHOLD": 2}
    make_job(job_id="flaky")
    alert = Alert(
        rule="failing",
        kind="consecutive_failures",
        severity="critical",
        message="m",
        job_id="flaky",
    )
    rules = [{**RULES[0], "resolve_after": 1}]
    for _ in range(2):
        evaluate(clock, rules, alerts=[alert], step=timedelta(minutes=40))
        evaluate(clock, rules, alerts=[], step=timedelta(minutes=40))
    assert message_events() == ["opened", "resolved", "opened", "resolved"]


def test_a_manual_resolve_sends_resolved_and_records_who(failing_job, channel, clock):
    evaluate(clock)
    incident = incident_resolve(
        incident=Incident.objects.get(), actor=Actor(user=None, name="bob", address="::1")
    )
    assert incident.state == "resolved" and incident.resolved_by == "bob"
    event = IncidentEvent.objects.get(kind="manually_resolved")
    assert (event.actor, event.address, event.notified) == ("bob", "::1", True)
    assert message_events() == ["opened", "manually_resolved"]
    with pytest.raises(IncidentNotOpen):
        incident_resolve(incident=incident, actor=Actor(user=None, name="bob"))
    with pytest.raises(IncidentNotOpen):
        incident_acknowledge(incident=incident, actor=Actor(user=None, name="bob"))
    # One entry: the refused second resolve and the refused ack leave none.
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.username, entry.target) == (
        "incident_resolve",
        "bob",
        f"incident {incident.pk}",
    )
    assert entry.after == {"state": "resolved", "acknowledged": False}


def test_a_second_evaluator_cannot_open_the_same_key_twice(make_job, clock):
    """The partial unique constraint keeps one open incident per key."""
    alert = Alert(rule="down", kind="scheduler_down", severity="critical", message="no heartbeat")
    rules = [{"name": "down", "kind": "scheduler_down", "severity": "critical"}]
    incidents_evaluate(rules=rules, alerts=[alert])
    # A second evaluator that read no open incident (as in a race) tries to open it again.
    from scheduler_monitor import incidents

    opened = incidents._open(
        incidents.Notifier(now=NOW, mutes=incidents.active_mutes(now=NOW), channels=[]),
        "down",
        alert,
        None,
        NOW,
    )
    assert opened is None
    assert Incident.objects.filter(key="down", state="open").count() == 1


def test_channels_take_only_what_their_filters_select(failing_job, make_job, clock):
    NotificationChannel.objects.create(name="all", kind="email", target="a@example.com")
    NotificationChannel.objects.create(
        name="warnings", kind="email", target="w@example.com", severities=["warning"]
    )
    NotificationChannel.objects.create(
        name="jira", kind="email", target="j@example.com", jobs=["sync_jira"]
    )
    NotificationChannel.objects.create(
        name="billing", kind="email", target="b@example.com", categories=["Billing"]
    )
    NotificationChannel.objects.create(
        name="off", kind="email", target="o@example.com", enabled=False
    )
    evaluate(clock)
    names = sorted(OutboxMessage.objects.values_list("channel__name", flat=True))
    assert names == ["all", "jira"]


def test_a_steady_evaluation_costs_the_same_queries_for_2_or_20_firing_jobs(
    make_job, channel, clock
):
    """Keeping open incidents is a fixed number of queries, whatever their number."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n in (2, 20):
        jobs = [make_job() for _ in range(n)]
        alerts = [
            Alert(
                rule="failing",
                kind="consecutive_failures",
                severity="critical",
                message="m",
                job_id=j.job_id,
                value=float(i),
            )
            for i, j in enumerate(jobs)
        ]
        incidents_evaluate(rules=RULES, alerts=alerts)
        with CaptureQueriesContext(connection) as queries:
            incidents_evaluate(rules=RULES, alerts=alerts)
        counts.append(len(queries))
        Incident.objects.all().delete()
    assert counts[0] == counts[1]
    assert counts[0] <= 8


def test_pruning_deletes_old_resolved_incidents_only(make_job, channel, clock):
    """Open ones stay, and resolved ones whose message is still waiting to be sent."""
    rules = [{**RULES[0], "resolve_after": 1}]
    keys = {}
    for job_id in ("old", "unsent", "recent", "open"):
        make_job(job_id=job_id)
        keys[job_id] = Alert(
            rule="failing",
            kind="consecutive_failures",
            severity="critical",
            message="m",
            job_id=job_id,
        )
    evaluate(clock, rules, alerts=list(keys.values()))
    evaluate(clock, rules, alerts=[keys["open"], keys["recent"]])  # old, unsent resolve
    OutboxMessage.objects.exclude(incident__key="failing:unsent").update(state="sent")
    evaluate(clock, rules, step=timedelta(days=40), alerts=[keys["open"]])  # recent resolves
    OutboxMessage.objects.filter(incident__key="failing:recent").update(state="sent")
    assert incidents_prune(days=30, dry_run=True) == 1
    assert Incident.objects.count() == 4
    assert incidents_prune(days=30) == 1
    assert sorted(Incident.objects.values_list("key", flat=True)) == [
        "failing:open",
        "failing:recent",
        "failing:unsent",
    ]
    assert not IncidentEvent.objects.filter(incident__key="failing:old").exists()
    assert not OutboxMessage.objects.filter(incident__key="failing:old").exists()
