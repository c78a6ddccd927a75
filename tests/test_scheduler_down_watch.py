"""A dead scheduler cannot say it is down: the web processes open the incident and send it.

Real gunicorn processes against the test database and a real HTTP receiver; the dead
scheduler is an instance row whose heartbeat stopped ten minutes ago.
"""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test.client import AsyncClientHandler, ClientHandler
from django.utils import timezone

from scheduler_monitor import scheduler_down_watch
from scheduler_monitor.models import Incident, IncidentEvent, SchedulerInstance, SchedulerLease
from scheduler_monitor.notification_channels import verify_signature
from tests.live_app import gunicorn_app, http_get, wait_until
from tests.webhook_receiver import Receiver

DOWN_ONLY = [{"name": "scheduler_down", "kind": "scheduler_down", "severity": "critical"}]

SECRET = "down-watch-secret"


def dead_scheduler() -> SchedulerInstance:
    long_ago = timezone.now() - timedelta(minutes=10)
    return SchedulerInstance.objects.create(
        hostname="vm", pid=4242, started_at=long_ago - timedelta(hours=1), heartbeat_at=long_ago
    )


def env_for(receiver, **extra) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.down_watch_settings",
        "DOWN_WATCH_HOOK": receiver.url,
        "DOWN_WATCH_SECRET": SECRET,
        **extra,
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_web_workers_open_the_incident_once_and_send_one_signed_message(tmp_path):
    """Two processes check every second: one incident, one message, however many checks."""
    dead_scheduler()
    log = tmp_path / "gunicorn.log"
    receiver = Receiver()
    with receiver, gunicorn_app(workers=2, env=env_for(receiver), log_path=log) as base:
        for _ in range(4):  # requests reach both workers, each starts its watch
            http_get(f"{base}/metrics")
        try:
            message = wait_until(receiver.messages, timeout=60, what="the message")[0]
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from exc
        incident = Incident.objects.get()
        opened_at = incident.last_fired_at
        # Both workers keep checking: the incident is kept (its last firing moves on) ...
        wait_until(
            lambda: Incident.objects.get().last_fired_at >= opened_at + timedelta(seconds=3),
            timeout=30,
            what="three more checks of the open incident",
        )
        # ... and no second message goes out.
        assert len(receiver.messages()) == 1
    body = message.json()
    assert (body["event"], body["status"]) == ("opened", "firing")
    assert body["incident"]["rule"] == "scheduler_down"
    assert "last heartbeat" in body["incident"]["message"]
    assert verify_signature(
        SECRET, message.headers["X-Timestamp"], message.body, message.headers["X-Signature"]
    )
    assert Incident.objects.filter(state="open").count() == 1
    assert IncidentEvent.objects.filter(kind="opened").count() == 1


def test_a_check_opens_the_incident_only_while_the_rule_fires(settings, db):
    """Quiet: nothing opened, nothing resolved (resolving is the living scheduler's)."""
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "ALERT_RULES": DOWN_ONLY}
    instance = dead_scheduler()
    assert scheduler_down_watch.scheduler_down_notify() is True
    assert scheduler_down_watch.scheduler_down_notify() is True
    incident = Incident.objects.get()
    assert (incident.rule, incident.state) == ("scheduler_down", "open")
    SchedulerInstance.objects.filter(pk=instance.pk).update(heartbeat_at=timezone.now())
    SchedulerLease.objects.create(
        name="default", holder=instance, expires_at=timezone.now() + timedelta(minutes=1)
    )
    assert scheduler_down_watch.scheduler_down_notify() is False
    incident.refresh_from_db()
    assert (incident.state, incident.quiet_evaluations) == ("open", 0)


def no_threads(monkeypatch) -> list:
    """Record the threads watch_start would start, start none; a process that never did."""
    started = []
    monkeypatch.setattr(scheduler_down_watch, "_started", threading.Event())
    monkeypatch.setattr(
        scheduler_down_watch.threading,
        "Thread",
        lambda **kw: started.append(kw) or SimpleNamespace(start=lambda: None),
    )
    return started


def test_a_real_servers_request_starts_it_once(settings, monkeypatch):
    started = no_threads(monkeypatch)
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "WEB_SCHEDULER_DOWN_WATCH": True}
    for _ in range(3):
        scheduler_down_watch.watch_start(sender=WSGIHandler)
    assert [kw["name"] for kw in started] == ["scheduler-monitor-down-watch"]


def test_the_watch_does_not_start_when_the_setting_is_off(settings, monkeypatch):
    started = no_threads(monkeypatch)
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "WEB_SCHEDULER_DOWN_WATCH": False,
    }
    scheduler_down_watch.watch_start()
    assert started == []


def test_the_test_clients_requests_do_not_start_it(settings, monkeypatch):
    """A host project's own tests use the test client: no thread in their test process."""
    started = no_threads(monkeypatch)
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "WEB_SCHEDULER_DOWN_WATCH": True}
    for handler in (ClientHandler, AsyncClientHandler):
        scheduler_down_watch.watch_start(sender=handler)
    assert started == []
