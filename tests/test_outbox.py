"""The outbox: signed deliveries to a real HTTP receiver, retries with backoff, claims."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import (
    DeliveryAttempt,
    NotificationChannel,
    OutboxMessage,
    OutboxState,
)
from scheduler_monitor.notification_channels import verify_signature
from scheduler_monitor.outbox import outbox_claim, outbox_drain, outbox_pending_count
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db
RULES = [{"name": "failing", "kind": "consecutive_failures", "count": 2, "severity": "critical"}]
SECRET = "s3cret-for-tests"


@pytest.fixture
def fast_retries(settings):
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "NOTIFICATION_RETRY_DELAYS": [0, 0],
        "NOTIFICATION_TIMEOUT": 2,
        "BASE_URL": "https://ops.example.com",
    }


def open_incident(make_job, url):
    NotificationChannel.objects.create(name="hook", kind="webhook", target=url, secret=SECRET)
    job = make_job(job_id="sync_jira", name="Sync Jira", last_error="boom\nValueError: bad row")
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
    return OutboxMessage.objects.get()


def test_it_delivers_a_signed_webhook_with_an_idempotency_key(make_job, fast_retries):
    """The receiver gets the documented JSON, a valid signature, a timestamp and the key."""
    with Receiver() as receiver:
        message = open_incident(make_job, receiver.url)
        assert outbox_drain() == 1
        [got] = receiver.messages()
    body = got.json()
    assert verify_signature(
        SECRET, got.headers["X-Timestamp"], got.body, got.headers["X-Signature"]
    )
    assert not verify_signature(
        "other", got.headers["X-Timestamp"], got.body, got.headers["X-Signature"]
    )
    assert got.headers["Idempotency-Key"] == message.idempotency_key
    assert got.headers["Content-Type"] == "application/json"
    assert body["event"] == "opened" and body["status"] == "firing"
    assert body["incident"]["rule"] == "failing"
    assert body["incident"]["numbers"] == {"value": 2, "threshold": 2}
    assert body["incident"]["last_error"] == "ValueError: bad row"
    assert body["job"] == {
        "job_id": "sync_jira",
        "job_name": "Sync Jira",
        "owner": "Team A",
        "category": "General",
        "url": "https://ops.example.com/scheduler-monitoring/jobs/sync_jira",
    }
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.SENT, 1)
    assert outbox_pending_count() == 0
    assert NotificationChannel.objects.get().last_sent_at is not None


def test_a_receiver_failing_twice_gets_the_message_once_on_the_third_try(make_job, fast_retries):
    """500, 500, 200: delivered once; three attempts recorded with their status codes."""
    with Receiver(statuses=[500, 500]) as receiver:
        message = open_incident(make_job, receiver.url)
        for _ in range(3):
            outbox_drain()
        assert len(receiver.messages()) == 1
        assert receiver.answered == [500, 500, 200]
        assert outbox_drain() == 0
    attempts = list(DeliveryAttempt.objects.filter(message=message).order_by("number"))
    assert [(a.number, a.ok, a.status_code) for a in attempts] == [
        (1, False, 500),
        (2, False, 500),
        (3, True, 200),
    ]
    assert "HTTP 500" in attempts[0].error
    message.refresh_from_db()
    assert message.state == OutboxState.SENT


def test_it_gives_up_after_the_last_retry_and_keeps_the_error(make_job, fast_retries):
    with Receiver(statuses=[503, 503, 503, 503]) as receiver:
        message = open_incident(make_job, receiver.url)
        for _ in range(5):
            outbox_drain()
        assert receiver.answered == [503, 503, 503]
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.FAILED, 3)
    assert "HTTP 503" in message.last_error
    channel = NotificationChannel.objects.get()
    assert "HTTP 503" in channel.last_error and channel.last_error_at is not None


def test_retries_back_off_by_the_configured_delays(make_job, settings):
    """With delays (30, 120): the second try is due 30 s after the first, the third 120 s."""
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "NOTIFICATION_TIMEOUT": 1}
    with Receiver(statuses=[500, 500, 500]) as receiver:
        message = open_incident(make_job, receiver.url)
        start = timezone.now()
        outbox_drain(now=start)
        message.refresh_from_db()
        assert 29 <= (message.next_attempt_at - start).total_seconds() <= 31
        assert outbox_drain(now=start + timedelta(seconds=10)) == 0
        assert outbox_drain(now=start + timedelta(seconds=31)) == 1
        message.refresh_from_db()
        assert 119 <= (message.next_attempt_at - timezone.now()).total_seconds() <= 121


def test_an_unreachable_receiver_is_a_recorded_error_not_a_crash(make_job, fast_retries):
    message = open_incident(make_job, "http://127.0.0.1:9/nothing-listens")
    assert outbox_drain() == 1
    attempt = DeliveryAttempt.objects.get(message=message)
    assert attempt.ok is False and attempt.status_code is None
    assert "URLError" in attempt.error or "Connection" in attempt.error


def test_a_claimed_message_is_not_claimed_again_until_its_claim_expires(make_job, fast_retries):
    """A sender that dies mid-send leaves the row to the next sender after the timeout."""
    open_incident(make_job, "http://127.0.0.1:9/")
    now = timezone.now()
    first = outbox_claim(now=now)
    assert first is not None
    assert outbox_claim(now=now) is None
    assert outbox_claim(now=now + timedelta(seconds=2 + 5 + 1)).pk == first.pk


def test_the_payload_is_frozen_at_the_change(make_job, fast_retries):
    """A later rename of the job does not change a message already queued."""
    message = open_incident(make_job, "http://127.0.0.1:9/")
    NotificationChannel.objects.update(target="http://127.0.0.1:9/")
    from scheduler_monitor.models import JobDefinition

    JobDefinition.objects.update(name="Renamed")
    message.refresh_from_db()
    assert message.payload["body"]["job"]["job_name"] == "Sync Jira"
    assert json.dumps(message.payload)  # JSON all the way down


def test_a_message_of_a_channel_disabled_since_is_dropped_untried(make_job, fast_retries):
    with Receiver() as receiver:
        message = open_incident(make_job, receiver.url)
        NotificationChannel.objects.update(enabled=False)
        assert outbox_drain() == 1
        assert receiver.answered == []
    message.refresh_from_db()
    assert (message.state, message.last_error) == (OutboxState.FAILED, "channel disabled")
    assert not DeliveryAttempt.objects.exists()
