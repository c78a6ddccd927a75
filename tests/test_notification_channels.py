"""Channels: email (locmem and a real SMTP server), Slack payload shape, settings, test send."""

import socket
import time

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import NotificationChannel, OutboxMessage, OutboxState
from scheduler_monitor.notification_channels import (
    channel_test_send,
    notification_channels_sync,
)
from scheduler_monitor.outbox import outbox_drain
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db
RULES = [{"name": "failing", "kind": "consecutive_failures", "count": 2, "severity": "critical"}]


def fire(make_job, **job_fields):
    job = make_job(job_id="sync_jira", name="Sync Jira", **job_fields)
    alert = Alert(
        rule="failing",
        kind="consecutive_failures",
        severity="critical",
        message="the last 2 runs failed",
        job_id=job.job_id,
        value=2,
        threshold=2,
    )
    incidents_evaluate(rules=RULES, alerts=[alert])
    return job


def test_an_email_has_a_text_and_an_html_part_with_the_facts(settings, make_job):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "BASE_URL": "https://ops.test"}
    NotificationChannel.objects.create(
        name="ops", kind="email", target="ops@example.com, oncall@example.com"
    )
    fire(make_job, last_error="Traceback\nKeyError: 'project'")
    outbox_drain()
    [email] = mail.outbox
    assert email.to == ["ops@example.com", "oncall@example.com"]
    assert email.subject == "[FIRING] failing on Sync Jira (sync_jira)"
    assert "What: the last 2 runs failed" in email.body
    assert "Last error: KeyError: 'project'" in email.body
    assert "Job page: https://ops.test/scheduler-monitoring/jobs/sync_jira" in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "KeyError: &#x27;project&#x27;" in html
    assert '<a href="https://ops.test/scheduler-monitoring/jobs/sync_jira">' in html
    assert email.extra_headers["X-Idempotency-Key"] == OutboxMessage.objects.get().idempotency_key


def test_a_zh_hans_channel_gets_the_message_in_chinese(settings, make_job):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    NotificationChannel.objects.create(
        name="cn", kind="email", target="ops@example.com", language="zh-hans"
    )
    fire(make_job)
    outbox_drain()
    [email] = mail.outbox
    assert email.subject == "[告警] failing：Sync Jira (sync_jira)"
    assert "告警内容: the last 2 runs failed" in email.body


def test_the_slack_payload_has_the_documented_shape(make_job):
    """Slack's incoming webhook: ``text``, and attachments with fallback/color/fields."""
    with Receiver() as receiver:
        NotificationChannel.objects.create(name="slack", kind="slack", target=receiver.url)
        fire(make_job)
        outbox_drain()
        [got] = receiver.messages()
    body = got.json()
    assert set(body) == {"text", "attachments"}
    assert body["text"] == "[FIRING] failing on Sync Jira (sync_jira)"
    [attachment] = body["attachments"]
    assert set(attachment) == {"color", "fallback", "fields"}
    assert attachment["color"] == "#d00000"
    assert all(set(f) == {"title", "value", "short"} for f in attachment["fields"])
    assert all(isinstance(f["value"], str) for f in attachment["fields"])
    assert {"title": "What", "value": "the last 2 runs failed", "short": False} in attachment[
        "fields"
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_an_email_reaches_a_real_smtp_server(settings, make_job):
    """Through Django's SMTP backend to aiosmtpd: one message, multipart text + HTML."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        NotificationChannel.objects.create(name="ops", kind="email", target="ops@example.com")
        fire(make_job)
        outbox_drain()
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        controller.stop()
    [message] = received
    assert message["To"] == "ops@example.com"
    assert message["Subject"] == "[FIRING] failing on Sync Jira (sync_jira)"
    types = [part.get_content_type() for part in message.walk()]
    assert types == ["multipart/alternative", "text/plain", "text/html"]
    assert OutboxMessage.objects.get().state == OutboxState.SENT


def test_settings_channels_are_synced_as_rows_and_disabled_when_removed(settings):
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "NOTIFICATION_CHANNELS": [
            {"name": "hook", "kind": "webhook", "target": "https://h.test/x", "secret": "k"},
            {"name": "mail", "kind": "email", "target": "a@b.test", "severities": ["critical"]},
        ],
    }
    notification_channels_sync()
    rows = {c.name: c for c in NotificationChannel.objects.all()}
    assert set(rows) == {"hook", "mail"}
    assert rows["hook"].secret == "k" and rows["hook"].from_settings
    assert rows["mail"].severities == ["critical"]
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "NOTIFICATION_CHANNELS": [{"name": "mail", "kind": "email", "target": "c@d.test"}],
    }
    notification_channels_sync()
    rows = {c.name: c for c in NotificationChannel.objects.all()}
    assert rows["hook"].enabled is False
    assert rows["mail"].target == "c@d.test" and rows["mail"].severities == []


@pytest.mark.parametrize(
    "channels, message",
    [
        ({"name": "x"}, "must be a list"),
        ([{"name": "x", "kind": "sms", "target": "t"}], "needs a kind"),
        ([{"name": "x", "kind": "webhook", "target": "ftp://x"}], "http\\(s\\) URL"),
        ([{"name": "x", "kind": "email"}], "needs a target"),
        ([{"name": "x", "kind": "email", "target": "a@b", "language": "fr"}], "language"),
        ([{"name": "x", "kind": "email", "target": "a@b", "jobs": "a"}], "list of strings"),
        ([{"name": "x", "kind": "email", "target": "a@b", "colour": 1}], "unknown keys"),
        ([{"name": "x", "kind": "pagerduty", "target": "https://p.test/"}], "routing key"),
        (
            [
                {"name": "x", "kind": "email", "target": "a@b"},
                {"name": "x", "kind": "email", "target": "a@b"},
            ],
            "unique",
        ),
    ],
)
def test_it_refuses_bad_channel_settings(settings, channels, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        settings.SCHEDULER_MONITOR = {"NOTIFICATION_CHANNELS": channels}


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("BASE_URL", "ops.example.com", "http\\(s\\) URL"),
        ("NOTIFICATION_RETRY_DELAYS", [-1], "seconds >= 0"),
        ("ALERT_EVALUATION_INTERVAL", 0, "positive number"),
        ("FLAPPING_THRESHOLD", 1.5, "positive integer"),
    ],
)
def test_it_refuses_bad_notification_settings(settings, key, value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        settings.SCHEDULER_MONITOR = {key: value}


def test_the_test_send_reports_the_error_or_success(make_job):
    with Receiver(statuses=[502]) as receiver:
        channel = NotificationChannel.objects.create(name="h", kind="webhook", target=receiver.url)
        assert "HTTP 502" in channel_test_send(channel)
        channel.refresh_from_db()
        assert "HTTP 502" in channel.last_error
        assert channel_test_send(channel) is None
        [got] = receiver.messages()
    assert got.json()["event"] == "test"


def test_a_pagerduty_channel_triggers_then_resolves_one_alert(make_job):
    """Events API v2: trigger with the routing key and a dedup key per incident, then resolve."""
    from scheduler_monitor.models import Incident

    with Receiver() as receiver:
        NotificationChannel.objects.create(
            name="pd", kind="pagerduty", target=receiver.url, secret="R0UTING"
        )
        fire(make_job, last_error="KeyError: 'x'")
        incidents_evaluate(rules=RULES, alerts=[])
        incidents_evaluate(rules=RULES, alerts=[])
        outbox_drain()
        bodies = [m.json() for m in receiver.messages()]
    incident = Incident.objects.get()
    assert [b["event_action"] for b in bodies] == ["trigger", "resolve"]
    assert {b["routing_key"] for b in bodies} == {"R0UTING"}
    assert {b["dedup_key"] for b in bodies} == {f"scheduler-monitor-incident-{incident.pk}"}
    payload = bodies[0]["payload"]
    assert (payload["source"], payload["severity"], payload["class"]) == (
        "sync_jira",
        "critical",
        "failing",
    )
    assert payload["summary"] == "[FIRING] failing on Sync Jira (sync_jira)"
    assert payload["custom_details"]["last_error"] == "KeyError: 'x'"
    assert "R0UTING" not in str(OutboxMessage.objects.values_list("payload", flat=True))
