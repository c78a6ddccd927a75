"""The scheduler lease: one active instance, standbys take over when it stops or dies."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduler_monitor import alert_rules, runs, scheduler_instances
from scheduler_monitor.models import JobRun, RunStatus, SchedulerInstance, SchedulerLease

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_it_gives_the_lease_to_one_instance_only(frozen):
    """The first instance takes the lease; a second cannot while it is renewed."""
    first = scheduler_instances.scheduler_instance_start()
    second = scheduler_instances.scheduler_instance_start()
    assert scheduler_instances.scheduler_lease_acquire(instance=first)
    assert not scheduler_instances.scheduler_lease_acquire(instance=second)
    frozen.shift(scheduler_instances.lease_ttl_seconds() - 1)
    assert scheduler_instances.scheduler_lease_renew(instance=first)
    frozen.shift(scheduler_instances.lease_ttl_seconds() - 1)
    assert not scheduler_instances.scheduler_lease_acquire(instance=second)
    assert SchedulerLease.objects.get().holder == first


@pytest.mark.django_db
def test_it_lets_a_standby_take_an_expired_lease(frozen, make_job):
    """After the TTL the standby takes over; the old holder is stopped, its run an orphan."""
    first = scheduler_instances.scheduler_instance_start()
    second = scheduler_instances.scheduler_instance_start()
    assert scheduler_instances.scheduler_lease_acquire(instance=first)
    run = JobRun.objects.create(
        job=make_job(),
        status=RunStatus.RUNNING,
        started_at=NOW,
        hostname=first.hostname,
        pid=999_999,
    )
    SchedulerInstance.objects.filter(pk=first.pk).update(pid=999_999)
    frozen.shift(scheduler_instances.lease_ttl_seconds() + 0.001)
    scheduler_instances.scheduler_instance_heartbeat(instance=second)
    assert scheduler_instances.scheduler_lease_acquire(instance=second)
    assert not scheduler_instances.scheduler_lease_renew(instance=first)  # it has lost the lease
    first.refresh_from_db()
    assert first.stopped_at == NOW + timedelta(
        seconds=scheduler_instances.lease_ttl_seconds() + 0.001
    )
    assert runs.job_runs_abandon_orphans(current=second) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.ABANDONED


@pytest.mark.django_db
def test_it_frees_the_lease_at_a_clean_stop(frozen):
    """A released lease is taken at once, without waiting for the TTL."""
    first = scheduler_instances.scheduler_instance_start()
    second = scheduler_instances.scheduler_instance_start()
    scheduler_instances.scheduler_lease_acquire(instance=first)
    scheduler_instances.scheduler_lease_release(instance=first)
    assert scheduler_instances.scheduler_lease_acquire(instance=second)
    first.refresh_from_db()
    assert first.stopped_at is None  # a clean stop records its own stop


@pytest.mark.django_db
def test_it_shows_which_instance_is_active(frozen):
    """scheduler_roles: the holder is active, other live instances standby."""
    first = scheduler_instances.scheduler_instance_start()
    second = scheduler_instances.scheduler_instance_start()
    scheduler_instances.scheduler_lease_acquire(instance=first)
    roles = scheduler_instances.scheduler_roles()
    assert roles.active.instance == first
    assert [r.instance for r in roles.standby] == [second]
    data = roles.as_dict()
    assert data["active"]["role"] == "active" and data["standby"][0]["role"] == "standby"
    assert data["lease_expires_at"] == "2026-06-15T12:00:15Z"
    assert not scheduler_instances.scheduler_down()


@pytest.mark.django_db
def test_it_says_down_when_the_holder_is_gone_even_with_a_standby(frozen):
    """Lease expired and only a standby alive: down until the standby takes over."""
    first = scheduler_instances.scheduler_instance_start()
    scheduler_instances.scheduler_lease_acquire(instance=first)
    frozen.shift(scheduler_instances.lease_ttl_seconds() + 1)
    second = scheduler_instances.scheduler_instance_start()
    assert scheduler_instances.scheduler_down()
    (alert,) = alert_rules.firing_alerts(
        rules=[{"name": "down", "kind": "scheduler_down", "severity": "critical"}]
    )
    assert "no live scheduler holds the lease" in alert.message
    scheduler_instances.scheduler_lease_acquire(instance=second)
    assert not scheduler_instances.scheduler_down()
    assert scheduler_instances.scheduler_roles().active.instance == second


@pytest.mark.django_db
def test_it_promises_a_takeover_bound_from_the_heartbeat_settings(settings):
    """TTL = heartbeat interval x stale-after; bound = TTL + one standby poll."""
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "HEARTBEAT_INTERVAL": 2,
        "HEARTBEAT_STALE_AFTER": 3,
    }
    assert scheduler_instances.lease_ttl_seconds() == 6
    assert scheduler_instances.lease_takeover_bound_seconds() == 8
