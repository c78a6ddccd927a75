"""GET /api/v1/scheduler/status: running or stopped (lease-aware), active and standbys, counts."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.utils import timezone

from scheduler_monitor import scheduler_instances
from scheduler_monitor.models import SchedulerInstance, SchedulerLease
from scheduler_monitor.timestamps import iso_utc
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
        "active": None,
        "standby": [],
        "lease_expires_at": None,
        "lease_acquired_at": None,
        "recent_events": [],
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


NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def role_of(instance: SchedulerInstance, role: str, now: datetime) -> dict:
    instance.refresh_from_db()
    return {
        "id": instance.pk,
        "hostname": instance.hostname,
        "pid": instance.pid,
        "role": role,
        "started_at": iso_utc(instance.started_at),
        "heartbeat_at": iso_utc(instance.heartbeat_at),
        "heartbeat_age_seconds": (now - instance.heartbeat_at).total_seconds(),
    }


def test_it_shows_the_active_instance_standbys_and_lease(reader, db):
    """The lease holder is active, other live instances standby, with the lease's times."""
    with time_machine.travel(NOW, tick=False) as frozen:
        first = scheduler_instances.scheduler_instance_start()
        frozen.shift(2)
        second = scheduler_instances.scheduler_instance_start()
        frozen.shift(1)
        third = scheduler_instances.scheduler_instance_start()
        assert scheduler_instances.scheduler_lease_acquire(instance=second)
        scheduler_instances.scheduler_instance_stop(
            instance=third
        )  # stopped: neither active nor standby
        frozen.shift(3)
        now = NOW + timedelta(seconds=6)
        data = data_of(reader.get(URL))
        lease = SchedulerLease.objects.get()
        assert data["running"] is True and data["state"] == "running"
        assert data["active"] == role_of(second, "active", now)
        assert data["standby"] == [role_of(first, "standby", now)]
        assert data["lease_expires_at"] == iso_utc(lease.expires_at)
        assert data["lease_acquired_at"] == iso_utc(lease.acquired_at) == iso_utc(NOW + 3 * SEC)
        # "instance" stays the latest heartbeat: the one that just stopped.
        assert data["instance"]["stopped_at"] == iso_utc(NOW + 3 * SEC)
        assert data["running"] is not scheduler_instances.scheduler_down()


SEC = timedelta(seconds=1)


def test_it_reports_stopped_when_the_lease_holder_is_gone(reader, db):
    """A lease whose holder died: stopped even though a standby's heartbeat is fresh."""
    with time_machine.travel(NOW, tick=False) as frozen:
        holder = scheduler_instances.scheduler_instance_start()
        standby = scheduler_instances.scheduler_instance_start()
        assert scheduler_instances.scheduler_lease_acquire(instance=holder)
        # The holder dies (no more heartbeats); the standby keeps beating until the lease expires.
        frozen.shift(scheduler_instances.lease_ttl_seconds() + 1)
        scheduler_instances.scheduler_instance_heartbeat(instance=standby)
        now = NOW + timedelta(seconds=scheduler_instances.lease_ttl_seconds() + 1)
        data = data_of(reader.get(URL))
        assert data["running"] is False and data["state"] == "stopped"
        assert data["active"] is None
        assert data["standby"] == [role_of(standby, "standby", now)]
        # The heartbeat-only rule would have said running: the latest heartbeat is fresh.
        assert scheduler_instances.scheduler_status().running is True
        assert scheduler_instances.scheduler_down() is True
        assert scheduler_instances.scheduler_lease_acquire(instance=standby)
        data = data_of(reader.get(URL))
        assert data["running"] is True and data["active"]["id"] == standby.pk
        assert data["standby"] == []


def test_it_lists_recent_scheduler_events_newest_first(reader, db):
    """Outages and takeovers the scheduler recorded, with their span and missed times."""
    from scheduler_monitor.scheduler_events import database_outage_record, event_record

    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    database_outage_record(started_at=t0, ended_at=t0 + timedelta(seconds=20), pid=7)
    event_record(
        kind="no_scheduler",
        started_at=t0 + timedelta(minutes=5),
        ended_at=t0 + timedelta(minutes=5, seconds=16),
        message="No scheduler ran jobs",
        missed_runs=31,
    )
    events = data_of(reader.get(URL))["recent_events"]
    assert [e["kind"] for e in events] == ["no_scheduler", "database_unreachable"]
    outage = events[1]
    assert outage["started_at"] == t0.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert outage["duration_seconds"] == 20.0
    assert outage["message"].startswith("Could not reach the database from ")
    assert events[0]["missed_runs"] == 31
