"""Who may call what: Bearer/Token tokens and the admin session, per permission."""

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import AuditEntry, Incident, JobDefinition, Silence, TriggerRequest
from tests.api.helpers import CHANGE, TRIGGER, VIEW, data_of, error_of

AUDIT = "view_auditentry"

P = "/api/v1/scheduler"
# (method, path, body, permission needed, success status)
ENDPOINTS = [
    ("get", f"{P}/status", None, VIEW, 200),
    ("get", f"{P}/jobs", None, VIEW, 200),
    ("get", f"{P}/jobs/a", None, VIEW, 200),
    ("get", f"{P}/jobs/a/runs", None, VIEW, 200),
    ("get", f"{P}/triggers/{{trigger}}", None, VIEW, 200),
    ("get", f"{P}/metrics", None, VIEW, 200),
    ("get", f"{P}/services/list", None, VIEW, 200),
    ("get", f"{P}/heatmap?hours=24", None, VIEW, 200),
    ("get", f"{P}/summary", None, VIEW, 200),
    ("get", f"{P}/alerts", None, VIEW, 200),
    ("post", f"{P}/jobs/a/trigger", None, TRIGGER, 202),
    ("post", f"{P}/jobs/a/pause", None, CHANGE, 200),
    ("post", f"{P}/jobs/a/resume", None, CHANGE, 200),
    ("post", f"{P}/jobs/batch", {"action": "trigger", "job_ids": ["a"]}, TRIGGER, 200),
    ("post", f"{P}/jobs/batch", {"action": "pause", "job_ids": ["a"]}, CHANGE, 200),
    ("get", f"{P}/audit", None, AUDIT, 200),
    ("patch", f"{P}/jobs/a", {"seconds": 120}, CHANGE, 200),
    ("post", f"{P}/jobs/a/schedule/reset", None, CHANGE, 200),
    ("get", f"{P}/incidents", None, VIEW, 200),
    ("get", f"{P}/incidents/{{incident}}", None, VIEW, 200),
    ("get", f"{P}/silences", None, VIEW, 200),
    ("post", f"{P}/incidents/{{incident}}/ack", None, CHANGE, 200),
    ("post", f"{P}/incidents/{{incident}}/resolve", None, CHANGE, 200),
    ("post", f"{P}/silences", {"scope": "job", "value": "a", "duration_minutes": 30}, CHANGE, 201),
]
IDS = [
    f"{m.upper()} {p.removeprefix(P)} {b.get('action', '') if b else ''}".strip()
    for m, p, b, *_ in ENDPOINTS
]


@pytest.fixture
def target(make_job):
    """Job 'a', a trigger request of another job and an open incident of 'a', so every
    endpoint has something."""
    job = make_job("a")
    alert = Alert(
        rule="r", kind="consecutive_failures", severity="warning", message="m", job_id=job.job_id
    )
    incidents_evaluate(
        rules=[{"name": "r", "kind": "consecutive_failures", "severity": "warning"}],
        alerts=[alert],
    )
    return TriggerRequest.objects.create(job=make_job("b"), status="done")


def call(client, endpoint, target, **extra):
    method, path, body, *_ = endpoint
    path = path.replace("{trigger}", str(target.pk))
    path = path.replace("{incident}", str(Incident.objects.get().pk))
    if method == "get":
        return client.get(path, **extra)
    return getattr(client, method)(path, body, format="json", **extra)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_it_answers_401_with_a_bearer_challenge_when_anonymous(endpoint, target):
    """No credentials: 401 and WWW-Authenticate: Bearer."""
    response = call(APIClient(), endpoint, target)
    payload = error_of(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "credentials were not provided" in payload["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_it_answers_401_for_a_bad_token(endpoint, target):
    """A token that does not exist: 401."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer 0000000000000000000000000000000000000000")
    response = call(client, endpoint, target)
    assert error_of(response, 401)["message"] == "Invalid token."
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_it_answers_403_for_a_token_without_permission(endpoint, target, token_client):
    """A valid token of a user without the needed permission: 403, nothing changes."""
    others = {VIEW, TRIGGER, CHANGE} - {endpoint[3]}
    client = token_client(*(others if endpoint[3] != VIEW else ()))
    error_of(call(client, endpoint, target), 403)
    assert TriggerRequest.objects.count() == 1
    assert not AuditEntry.objects.exists()
    job = JobDefinition.objects.get(job_id="a")
    assert (job.paused, job.overridden_at) == (False, None)
    assert Incident.objects.filter(state="open", acknowledged_at=None).count() == 1
    assert not Silence.objects.exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_it_answers_for_a_token_with_permission(endpoint, target, token_client):
    """A valid token with the permission: the endpoint's success status."""
    client = token_client(endpoint[3], keyword="Bearer")
    expected = endpoint[4]
    data_of(call(client, endpoint, target), expected, None)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_it_lets_a_staff_session_read_but_not_write(endpoint, target, make_user, session_client):
    """A staff session reads everything (the audit too); writes need the permission too."""
    client = session_client(make_user("staff", is_staff=True))
    response = call(client, endpoint, target, HTTP_X_CSRFTOKEN=client.csrf_token)
    if endpoint[0] == "get":
        data_of(response, 200)
    else:
        error_of(response, 403)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e[0] != "get"])
def test_it_lets_a_superuser_session_write_with_csrf_only(
    endpoint, target, make_user, session_client
):
    """A session write needs the CSRF token; with it, it succeeds."""
    client = session_client(make_user("root", is_staff=True, is_superuser=True))
    payload = error_of(call(client, endpoint, target), 403)
    assert "CSRF" in payload["message"]
    data_of(call(client, endpoint, target, HTTP_X_CSRFTOKEN=client.csrf_token), endpoint[4], None)


def test_it_accepts_the_token_keyword_and_any_case(target, token_client):
    """'Token <key>' and 'bearer <key>' work too; a bare 'Bearer' is a 401."""
    for keyword in ("Token", "bearer", "BEARER"):
        client = token_client(VIEW, keyword=keyword)
        data_of(client.get(f"{P}/status"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer")
    assert "expected 'Bearer <token>'" in error_of(client.get(f"{P}/status"), 401)["message"]
    client.credentials(HTTP_AUTHORIZATION="Bearer a b")
    error_of(client.get(f"{P}/status"), 401)


def test_it_accepts_a_token_made_by_drf_create_token(target, make_user):
    """manage.py drf_create_token gives a token the API takes as Bearer."""
    make_user("ops", VIEW)
    out = io.StringIO()
    call_command("drf_create_token", "ops", stdout=out)
    key = out.getvalue().split()[2]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert data_of(client.get(f"{P}/jobs"))["total"] == 2


def test_it_refuses_an_inactive_users_token(target, token_client):
    """A deactivated user's token stops working: 401."""
    client = token_client(VIEW)
    client.user.is_active = False
    client.user.save()
    error_of(client.get(f"{P}/status"), 401)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e[3] != VIEW])
def test_it_answers_403_for_a_view_only_token_and_records_nothing(endpoint, target, token_client):
    """A token that may only view jobs cannot write or read the audit; no audit entry."""
    error_of(call(token_client(VIEW), endpoint, target), 403)
    assert not AuditEntry.objects.exists()
    assert TriggerRequest.objects.count() == 1
