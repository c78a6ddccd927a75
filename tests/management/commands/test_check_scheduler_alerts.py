"""check_scheduler_alerts --notify: the scheduler-down incident, opened once, sent, resolved."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command

from scheduler_monitor import scheduler_instances
from scheduler_monitor.models import Incident, NotificationChannel, OutboxMessage
from tests.webhook_receiver import Receiver

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def check(*args):
    out = io.StringIO()
    try:
        call_command("check_scheduler_alerts", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def down_only(settings):
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "ALERT_RULES": [
            {"name": "scheduler_down", "kind": "scheduler_down", "severity": "critical"}
        ],
    }


def test_notify_opens_the_scheduler_down_incident_once_and_sends_it(down_only):
    """Cron runs it every minute: one incident, one message, however many runs."""
    with Receiver() as receiver, time_machine.travel(NOW, tick=False) as clock:
        NotificationChannel.objects.create(name="hook", kind="webhook", target=receiver.url)
        scheduler_instances.scheduler_instance_start()
        clock.shift(timedelta(minutes=5))  # its heartbeat went stale
        for _ in range(3):
            code, text = check("--notify")
            clock.shift(timedelta(minutes=1))
        messages = receiver.messages()
    assert code == 2
    incident = Incident.objects.get()
    assert (incident.key, incident.state, incident.job) == ("scheduler_down", "open", None)
    assert [m.json()["event"] for m in messages] == ["opened"]
    assert "heartbeat" in messages[0].json()["incident"]["message"]
    assert f"1 open incident(s):\n  #{incident.pk} critical scheduler_down since" in text


def test_notify_resolves_it_when_a_scheduler_is_back(down_only):
    with time_machine.travel(NOW, tick=False) as clock:
        NotificationChannel.objects.create(name="m", kind="email", target="ops@example.com")
        instance = scheduler_instances.scheduler_instance_start()
        clock.shift(timedelta(minutes=5))
        check("--notify")
        scheduler_instances.scheduler_instance_heartbeat(instance=instance)
        scheduler_instances.scheduler_lease_acquire(instance=instance)
        for _ in range(2):
            clock.shift(timedelta(seconds=1))
            scheduler_instances.scheduler_instance_heartbeat(instance=instance)
            scheduler_instances.scheduler_lease_acquire(instance=instance)
            code, _ = check("--notify")
    assert code == 0
    assert Incident.objects.get().state == "resolved"
    assert list(OutboxMessage.objects.values_list("event__kind", flat=True)) == [
        "opened",
        "resolved",
    ]


def test_without_notify_it_only_reports(down_only):
    with time_machine.travel(NOW, tick=False) as clock:
        scheduler_instances.scheduler_instance_start()
        clock.shift(timedelta(minutes=5))
        code, text = check("--json")
    assert code == 2
    assert Incident.objects.count() == 0
    assert json.loads(text)["incidents"] == []


def test_notify_uses_the_channels_declared_in_settings(settings, down_only):
    """No scheduler ever ran (nothing synced the settings' channels): --notify does."""
    with Receiver() as receiver:
        settings.SCHEDULER_MONITOR = {
            **settings.SCHEDULER_MONITOR,
            "NOTIFICATION_CHANNELS": [{"name": "hook", "kind": "webhook", "target": receiver.url}],
        }
        code, _ = check("--notify")
        messages = receiver.messages()
    assert code == 2
    assert [m.json()["incident"]["message"] for m in messages] == ["no scheduler has ever started"]
