"""GET incidents (filters), one incident, POST ack and resolve; silences."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import (
    AuditEntry,
    Incident,
    IncidentEvent,
    NotificationChannel,
    OutboxMessage,
    Silence,
)
from tests.api.helpers import CHANGE, VIEW, data_of, error_of

P = "/api/v1/scheduler"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def alert(rule, job_id=None):
    return Alert(
        rule=rule,
        kind="scheduler_down" if job_id is None else "consecutive_failures",
        severity="critical" if job_id is None else "warning",
        message=f"{rule} fired",
        job_id=job_id,
        value=3,
        threshold=2,
    )


RULES = [
    {"name": "failing", "kind": "consecutive_failures", "severity": "warning"},
    {"name": "down", "kind": "scheduler_down", "severity": "critical"},
]


@pytest.fixture
def incidents(make_job):
    """Resolved 'failing' on a (opened 12:00), open 'failing' on b (12:01), open 'down'."""
    make_job("a"), make_job("b")
    with time_machine.travel(NOW, tick=False) as clock:
        incidents_evaluate(rules=RULES, alerts=[alert("failing", "a")])
        clock.shift(timedelta(minutes=1))
        incidents_evaluate(rules=RULES, alerts=[alert("failing", "b"), alert("down")])
        incidents_evaluate(rules=RULES, alerts=[alert("failing", "b"), alert("down")])
    return {i.key: i for i in Incident.objects.all()}


def keys(data):
    return [i["key"] for i in data["incidents"]]


def test_it_lists_incidents_newest_first_with_their_fields(reader, incidents):
    data = data_of(reader.get(f"{P}/incidents"))
    assert data["total"] == 3
    assert keys(data) == ["down", "failing:b", "failing:a"]
    down = data["incidents"][0]
    assert down == {
        "id": incidents["down"].pk,
        "key": "down",
        "rule": "down",
        "kind": "scheduler_down",
        "severity": "critical",
        "state": "open",
        "job_id": None,
        "job_name": None,
        "message": "down fired",
        "numbers": {"value": 3, "threshold": 2},
        "last_error": "",
        "opened_at": "2026-06-15T12:01:00Z",
        "last_fired_at": "2026-06-15T12:01:00Z",
        "acknowledged_at": None,
        "acknowledged_by": "",
        "resolved_at": None,
        "resolved_by": "",
        "silenced": False,
    }
    assert data["incidents"][2]["state"] == "resolved"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("open=true", ["down", "failing:b"]),
        ("open=false", ["failing:a"]),
        ("job=a", ["failing:a"]),
        ("rule=down", ["down"]),
        ("since=2026-06-15T12:00:30Z", ["down", "failing:b"]),
        ("rule=failing&open=true", ["failing:b"]),
        ("job=nope", []),
        ("limit=1", ["down"]),
    ],
)
def test_it_filters_incidents(reader, incidents, query, expected):
    data = data_of(reader.get(f"{P}/incidents?{query}"))
    assert keys(data) == expected


@pytest.mark.parametrize(
    "query, field",
    [
        ("open=yes", "open"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("job=%00", "job"),
    ],
)
def test_it_refuses_bad_filters_with_a_400_naming_the_field(reader, incidents, query, field):
    payload = error_of(reader.get(f"{P}/incidents?{query}"), 400)
    assert payload["data"]["field"] == field


def test_listing_costs_the_same_queries_for_3_or_30_incidents(
    reader, make_job, django_assert_num_queries
):
    """Token, user, permissions; the page and the count: a fixed number."""
    counts = []
    for n in (3, 30):
        Incident.objects.all().delete()
        jobs = [make_job() for _ in range(n)]
        incidents_evaluate(rules=RULES, alerts=[alert("failing", j.job_id) for j in jobs])
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert data_of(reader.get(f"{P}/incidents"))["total"] == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_one_incident_comes_with_its_timeline(reader, incidents):
    incident = incidents["failing:a"]
    data = data_of(reader.get(f"{P}/incidents/{incident.pk}"))
    assert data["key"] == "failing:a"
    assert [(e["kind"], e["at"]) for e in data["events"]] == [
        ("opened", "2026-06-15T12:00:00Z"),
        ("resolved", "2026-06-15T12:01:00Z"),
    ]


@pytest.mark.parametrize("incident_id", ["999999", str(2**63)])
def test_an_unknown_incident_is_a_404(reader, incidents, incident_id):
    payload = error_of(reader.get(f"{P}/incidents/{incident_id}"), 404)
    assert payload["data"] == {"field": "incident_id"}


def test_ack_records_who_and_from_where_and_is_idempotent(token_client, incidents):
    client = token_client(CHANGE)
    incident = incidents["failing:b"]
    data = data_of(client.post(f"{P}/incidents/{incident.pk}/ack", REMOTE_ADDR="203.0.113.5"))
    assert data["acknowledged_by"] == client.user.username
    assert data["acknowledged_at"] is not None
    assert data["events"][-1]["kind"] == "acknowledged"
    assert data["events"][-1]["address"] == "203.0.113.5"
    again = data_of(client.post(f"{P}/incidents/{incident.pk}/ack"))
    assert again["acknowledged_at"] == data["acknowledged_at"]
    assert IncidentEvent.objects.filter(kind="acknowledged").count() == 1


def test_an_ack_through_the_api_adds_an_audit_entry(token_client, incidents):
    client = token_client(CHANGE)
    incident = incidents["failing:b"]
    data_of(client.post(f"{P}/incidents/{incident.pk}/ack", REMOTE_ADDR="203.0.113.5"))
    entry = AuditEntry.objects.get(action="incident_acknowledge")
    assert (entry.username, entry.auth, entry.address) == (
        client.user.username,
        "token",
        "203.0.113.5",
    )
    assert entry.target == f"incident {incident.pk}"
    assert (entry.before["acknowledged"], entry.after["acknowledged"]) == (False, True)


def test_resolve_resolves_by_hand_and_sends_resolved(token_client, incidents):
    NotificationChannel.objects.create(name="m", kind="email", target="ops@example.com")
    client = token_client(CHANGE)
    incident = incidents["down"]
    data = data_of(client.post(f"{P}/incidents/{incident.pk}/resolve"))
    assert (data["state"], data["resolved_by"]) == ("resolved", client.user.username)
    assert list(OutboxMessage.objects.values_list("event__kind", flat=True)) == [
        "manually_resolved"
    ]
    payload = error_of(client.post(f"{P}/incidents/{incident.pk}/resolve"), 409)
    assert "resolved already" in payload["message"]
    error_of(client.post(f"{P}/incidents/{incident.pk}/ack"), 409)


def test_the_manage_incident_permission_is_enough_to_ack(token_client, incidents):
    client = token_client(VIEW, "manage_incident")
    incident = incidents["down"]
    data_of(client.post(f"{P}/incidents/{incident.pk}/ack"))


# --- silences ----------------------------------------------------------------------------


def test_it_creates_a_silence_and_lists_it(token_client, db):
    client = token_client(VIEW, CHANGE)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            f"{P}/silences",
            {"scope": "category", "value": "Billing", "duration_minutes": 90, "reason": "migr"},
            format="json",
            REMOTE_ADDR="203.0.113.9",
        )
        created = data_of(response, 201)
        listed = data_of(client.get(f"{P}/silences"))
    assert created["starts_at"] == "2026-06-15T12:00:00Z"
    assert created["ends_at"] == "2026-06-15T13:30:00Z"
    assert (created["created_by"], created["created_from"]) == (client.user.username, "203.0.113.9")
    assert listed == {"total": 1, "silences": [created]}
    silence = Silence.objects.get()
    assert (silence.scope, silence.value, silence.reason) == ("category", "Billing", "migr")


def test_past_silences_are_listed_with_all_true_only(token_client, db):
    client = token_client(VIEW, CHANGE)
    body = {"scope": "all", "starts_at": "2020-01-01T00:00:00Z", "duration_minutes": 5}
    data_of(client.post(f"{P}/silences", body, format="json"), 201)
    assert data_of(client.get(f"{P}/silences"))["total"] == 0
    assert data_of(client.get(f"{P}/silences?all=true"))["total"] == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"scope": "job", "duration_minutes": 5}, "value"),
        ({"scope": "job", "value": "", "duration_minutes": 5}, "value"),
        ({"scope": "all", "value": "x", "duration_minutes": 5}, "value"),
        ({"scope": "host", "value": "x", "duration_minutes": 5}, "scope"),
        ({"scope": "all"}, "duration_minutes"),
        ({"scope": "all", "duration_minutes": 0}, "duration_minutes"),
        ({"scope": "all", "duration_minutes": 10**9}, "duration_minutes"),
        ({"scope": "all", "duration_minutes": 5, "starts_at": "soon"}, "starts_at"),
        ({"scope": "job", "value": 3, "duration_minutes": 5}, "value"),
    ],
)
def test_a_bad_silence_is_a_400_naming_the_field(token_client, db, body, field):
    payload = error_of(token_client(CHANGE).post(f"{P}/silences", body, format="json"), 400)
    assert payload["data"]["field"] == field
    assert not Silence.objects.exists()
