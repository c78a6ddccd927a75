"""The admin pages of incidents, channels, the outbox, silences and maintenance windows."""

from datetime import UTC, datetime

from django.contrib.auth.models import Permission, User

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import (
    AuditEntry,
    Incident,
    IncidentEvent,
    MaintenanceWindow,
    NotificationChannel,
    OutboxMessage,
    Silence,
)
from tests.webhook_receiver import Receiver

RULES = [{"name": "failing", "kind": "consecutive_failures", "count": 2, "severity": "critical"}]
ADMIN = "/admin/scheduler_monitor"


def open_incident(make_job):
    job = make_job(job_id="sync_jira")
    alert = Alert(
        rule="failing",
        kind="consecutive_failures",
        severity="critical",
        message="m",
        job_id=job.job_id,
    )
    incidents_evaluate(rules=RULES, alerts=[alert])
    return Incident.objects.get()


def test_every_page_renders(admin_client, make_job):
    incident = open_incident(make_job)
    NotificationChannel.objects.create(name="h", kind="webhook", target="http://127.0.0.1:9/")
    incidents_evaluate(rules=RULES, alerts=[])
    for page in (
        "incident/",
        f"incident/{incident.pk}/change/",
        "notificationchannel/",
        "notificationchannel/add/",
        "outboxmessage/",
        "silence/",
        "silence/add/",
        "maintenancewindow/",
        "maintenancewindow/add/",
    ):
        response = admin_client.get(f"{ADMIN}/{page}")
        assert response.status_code == 200, page


def test_acknowledging_in_the_admin_records_who_and_from_where(admin_client, admin_user, make_job):
    incident = open_incident(make_job)
    response = admin_client.post(
        f"{ADMIN}/incident/",
        {"action": "acknowledge", "_selected_action": [incident.pk]},
        REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.acknowledged_by == admin_user.username
    event = IncidentEvent.objects.get(kind="acknowledged")
    assert (event.actor, event.address) == (admin_user.username, "192.0.2.10")


def test_staff_without_the_manage_permission_cannot_resolve(client, make_job):
    incident = open_incident(make_job)
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_incident"))
    client.force_login(user)
    response = client.post(
        f"{ADMIN}/incident/", {"action": "resolve", "_selected_action": [incident.pk]}
    )
    assert response.status_code == 200  # the changelist again: no such action for this user
    assert Incident.objects.get().state == "open"


def test_the_send_test_action_shows_the_result_and_keeps_the_last_error(admin_client, db):
    with Receiver(statuses=[500]) as receiver:
        channel = NotificationChannel.objects.create(
            name="hook", kind="webhook", target=receiver.url
        )
        response = admin_client.post(
            f"{ADMIN}/notificationchannel/",
            {"action": "send_test", "_selected_action": [channel.pk]},
            follow=True,
        )
    assert [str(m) for m in response.context["messages"]] == [
        "hook: HTTP 500 Internal Server Error"
    ]
    changelist = admin_client.get(f"{ADMIN}/notificationchannel/").content.decode()
    assert "HTTP 500" in changelist


def test_a_silence_added_in_the_admin_records_its_author(admin_client, admin_user, db):
    response = admin_client.post(
        f"{ADMIN}/silence/add/",
        {
            "scope": "category",
            "value": "Billing",
            "starts_at_0": "2026-06-15",
            "starts_at_1": "12:00:00",
            "ends_at_0": "2026-06-15",
            "ends_at_1": "14:00:00",
            "reason": "migration",
        },
        REMOTE_ADDR="192.0.2.11",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    silence = Silence.objects.get()
    assert (silence.created_by, silence.created_from) == (admin_user.username, "192.0.2.11")
    created = AuditEntry.objects.get()
    assert (created.action, created.username, created.address) == (
        "silence_create",
        admin_user.username,
        "192.0.2.11",
    )
    assert created.after["value"] == "Billing"


def test_changing_and_deleting_a_silence_in_the_admin_is_audited(admin_client, admin_user, db):
    silence = Silence.objects.create(
        scope="category",
        value="Billing",
        starts_at=datetime(2026, 6, 15, 12, tzinfo=UTC),
        ends_at=datetime(2026, 6, 15, 14, tzinfo=UTC),
    )
    form = {
        "scope": "category",
        "value": "Billing",
        "starts_at_0": "2026-06-15",
        "starts_at_1": "12:00:00",
        "ends_at_0": "2026-06-15",
        "ends_at_1": "13:00:00",
        "reason": "done early",
    }
    response = admin_client.post(f"{ADMIN}/silence/{silence.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    changed = AuditEntry.objects.get(action="silence_change")
    assert changed.before["ends_at"].startswith("2026-06-15T14:00:00")
    assert changed.after["ends_at"].startswith("2026-06-15T13:00:00")
    response = admin_client.post(f"{ADMIN}/silence/{silence.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Silence.objects.exists()
    deleted = AuditEntry.objects.get(action="silence_delete")
    assert (deleted.username, deleted.target, deleted.before["reason"]) == (
        admin_user.username,
        f"silence {silence.pk}",
        "done early",
    )


def test_the_admin_refuses_a_silence_that_ends_before_it_starts(admin_client, db):
    response = admin_client.post(
        f"{ADMIN}/silence/add/",
        {
            "scope": "all",
            "starts_at_0": "2026-06-15",
            "starts_at_1": "12:00:00",
            "ends_at_0": "2026-06-15",
            "ends_at_1": "11:00:00",
        },
    )
    assert response.status_code == 200
    assert "must end after it starts" in response.content.decode()
    assert not Silence.objects.exists()


def test_the_admin_checks_a_maintenance_window(admin_client, db):
    fields = {
        "name": "deploys",
        "scope": "all",
        "weekdays": "[5]",
        "start_time": "02:00",
        "duration_minutes": "60",
        "timezone": "Mars/Base",
        "enabled": "on",
    }
    response = admin_client.post(f"{ADMIN}/maintenancewindow/add/", fields)
    assert response.status_code == 200
    assert "Unknown time zone" in response.content.decode()
    response = admin_client.post(
        f"{ADMIN}/maintenancewindow/add/", {**fields, "timezone": "Europe/Berlin"}
    )
    assert response.status_code == 302
    assert MaintenanceWindow.objects.get().weekdays == [5]
    assert OutboxMessage.objects.count() == 0
