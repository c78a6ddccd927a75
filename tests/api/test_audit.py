"""GET /api/v1/scheduler/audit, and the entries each API action writes."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from scheduler_monitor.models import AuditEntry
from tests.api.helpers import CHANGE, TRIGGER, VIEW, data_of, error_of

P = "/api/v1/scheduler"
AUDIT = "view_auditentry"


def test_it_records_trigger_pause_resume_and_batch_with_before_and_after(token_client, make_job):
    """Each API action leaves one entry: user, token auth, address, job, before/after."""
    make_job("a")
    make_job("b")
    client = token_client(VIEW, TRIGGER, CHANGE)
    trigger = data_of(client.post(f"{P}/jobs/a/trigger"), 202, "accepted")["trigger"]
    data_of(client.post(f"{P}/jobs/a/pause", REMOTE_ADDR="10.1.2.3"))
    data_of(client.post(f"{P}/jobs/a/resume"))
    data_of(client.post(f"{P}/jobs/batch", {"action": "pause", "job_ids": ["a", "b"]}, "json"))
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.job.job_id) for e in entries] == [
        ("trigger", "a"),
        ("pause", "a"),
        ("resume", "a"),
        ("pause", "a"),
        ("pause", "b"),
    ]
    assert {(e.username, e.auth, e.user_id) for e in entries} == {
        (client.user.username, "token", client.user.pk)
    }
    assert entries[0].after == {"trigger_request": trigger["id"], "allow_concurrent": False}
    assert (entries[1].before, entries[1].after) == ({"paused": False}, {"paused": True})
    assert entries[1].address == "10.1.2.3"
    assert (entries[2].before, entries[2].after) == ({"paused": True}, {"paused": False})


def test_it_records_nothing_when_the_action_is_refused(token_client, make_job):
    """A 404 or 409 changes nothing, so it leaves no entry."""
    make_job("a")
    client = token_client(VIEW, TRIGGER, CHANGE)
    data_of(client.post(f"{P}/jobs/a/trigger"), 202, "accepted")
    error_of(client.post(f"{P}/jobs/a/trigger"), 409)
    error_of(client.post(f"{P}/jobs/nope/pause"), 404)
    assert AuditEntry.objects.count() == 1


def test_it_lists_entries_newest_first_with_filters_and_pages(token_client, make_job):
    """Filters job, user, action, since; page and page_size; the envelope."""
    make_job("a")
    make_job("b")
    alice = token_client(VIEW, CHANGE)
    bob = token_client(VIEW, CHANGE)
    data_of(alice.post(f"{P}/jobs/a/pause"))
    data_of(bob.post(f"{P}/jobs/b/pause"))
    data_of(alice.post(f"{P}/jobs/a/resume"))
    old = AuditEntry.objects.get(action="pause", job__job_id="a")
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=2))
    reader = token_client(AUDIT)
    data = data_of(reader.get(f"{P}/audit"))
    assert data["count"] == 3 and data["pages"] == 1
    assert [(e["action"], e["job_id"]) for e in data["entries"]] == [
        ("resume", "a"),
        ("pause", "b"),
        ("pause", "a"),
    ]
    first = data["entries"][0]
    assert set(first) == {
        "id", "at", "username", "auth", "address", "action", "job_id", "target", "before",
        "after",
    }  # fmt: skip
    assert first["at"].endswith("Z") and first["username"] == alice.user.username
    by_job = data_of(reader.get(f"{P}/audit", {"job": "a"}))
    assert [e["action"] for e in by_job["entries"]] == ["resume", "pause"]
    by_user = data_of(reader.get(f"{P}/audit", {"user": bob.user.username}))
    assert [e["job_id"] for e in by_user["entries"]] == ["b"]
    by_action = data_of(reader.get(f"{P}/audit", {"action": "pause"}))
    assert by_action["count"] == 2
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert data_of(reader.get(f"{P}/audit", {"since": since}))["count"] == 2
    paged = data_of(reader.get(f"{P}/audit", {"page": 2, "page_size": 2}))
    assert [e["action"] for e in paged["entries"]] == ["pause"]
    assert error_of(reader.get(f"{P}/audit", {"page": 9}), 404)["data"]["field"] == "page"
    assert error_of(reader.get(f"{P}/audit", {"since": "yesterday"}), 400)["data"]["field"] == (
        "since"
    )


def test_no_api_route_changes_or_deletes_an_entry(token_client, make_job, make_user):
    """PUT, PATCH and DELETE on the audit are 405 even for a superuser; the entry stays."""
    make_job("a")
    data_of(token_client(VIEW, CHANGE).post(f"{P}/jobs/a/pause"))
    entry = AuditEntry.objects.get()
    root = APIClient()
    root.force_authenticate(make_user("root", is_staff=True, is_superuser=True))
    for method in ("put", "patch", "delete", "post"):
        for path in (f"{P}/audit", f"{P}/audit/{entry.pk}"):
            response = getattr(root, method)(path, {"action": "x"}, format="json")
            assert response.status_code in (404, 405), (method, path)
    assert AuditEntry.objects.get().after == {"paused": True}
    assert AuditEntry.objects.count() == 1


def test_it_trusts_x_forwarded_for_only_behind_configured_proxies(token_client, make_job, settings):
    """By default the forwarded address is ignored; with one trusted proxy its last hop counts."""
    make_job("a")
    client = token_client(VIEW, CHANGE)
    forwarded = {"HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.9", "REMOTE_ADDR": "10.0.0.1"}
    data_of(client.post(f"{P}/jobs/a/pause", **forwarded))
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "AUDIT_TRUSTED_PROXIES": 1}
    data_of(client.post(f"{P}/jobs/a/resume", **forwarded))
    assert list(AuditEntry.objects.order_by("id").values_list("address", flat=True)) == [
        "10.0.0.1",
        "203.0.113.9",
    ]
