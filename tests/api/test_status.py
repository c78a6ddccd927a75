"""GET /api/v1/scheduler/status: running or stopped from the heartbeat, job counts."""

from datetime import timedelta

from django.utils import timezone

from scheduler_monitor.models import SchedulerInstance
from scheduler_monitor.selectors import iso_utc
from tests.api.helpers import data_of

URL = "/api/v1/scheduler/status"


def test_it_reports_stopped_without_any_instance(reader, make_job):
    """No scheduler ever started: stopped, no instance, counts of declared jobs."""
    make_job()
    make_job(paused=True)
    make_job(removed=True)
    assert data_of(reader.get(URL)) == {
        "running": False,
        "state": "stopped",
        "heartbeat_age_seconds": None,
        "registered_jobs": 2,
        "paused_jobs": 1,
        "instance": None,
    }


def test_it_reports_running_with_a_fresh_heartbeat(reader, db):
    """A fresh heartbeat without a stop is running; the instance is described."""
    now = timezone.now()
    instance = SchedulerInstance.objects.create(
        hostname="worker-1", pid=4242, started_at=now - timedelta(hours=1), heartbeat_at=now
    )
    data = data_of(reader.get(URL))
    assert data["running"] is True and data["state"] == "running"
    assert 0 <= data["heartbeat_age_seconds"] < 5
    assert data["instance"] == {
        "hostname": "worker-1",
        "pid": 4242,
        "started_at": iso_utc(instance.started_at),
        "heartbeat_at": iso_utc(instance.heartbeat_at),
        "stopped_at": None,
    }


def test_it_reports_stopped_when_the_heartbeat_is_stale_or_stop_recorded(reader, db):
    """A heartbeat older than the stale limit, or a recorded stop, is stopped."""
    now = timezone.now()
    SchedulerInstance.objects.create(
        hostname="h",
        pid=1,
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(minutes=5),
    )
    assert data_of(reader.get(URL))["state"] == "stopped"
    SchedulerInstance.objects.create(
        hostname="h", pid=2, started_at=now, heartbeat_at=now, stopped_at=now
    )
    data = data_of(reader.get(URL))
    assert data["state"] == "stopped" and data["instance"]["pid"] == 2
    assert data["instance"]["stopped_at"] == iso_utc(now)
