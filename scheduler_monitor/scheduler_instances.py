"""Scheduler instances and the lease: heartbeats, which instance is active,
whether a scheduler runs jobs at all.

One active scheduler: a lease renewed with the heartbeat, taken with a conditional update.
"""

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.jobs import job_list
from scheduler_monitor.models import SchedulerInstance, SchedulerLease
from scheduler_monitor.timestamps import iso_utc

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerStatus:
    running: bool
    instance: SchedulerInstance | None
    heartbeat_age_seconds: float | None
    registered_jobs: int
    paused_jobs: int


def scheduler_status(
    *, now: datetime | None = None, job_counts: tuple[int, int] | None = None
) -> SchedulerStatus:
    """Whether a scheduler is alive: its heartbeat is fresh and it has not recorded a stop.

    ``job_counts``: (registered, paused) when the caller has counted them already.
    """
    now = now or timezone.now()
    instance = SchedulerInstance.objects.order_by("-heartbeat_at").first()
    stale_after = timedelta(
        seconds=conf.get("HEARTBEAT_INTERVAL") * conf.get("HEARTBEAT_STALE_AFTER")
    )
    running = bool(
        instance and instance.stopped_at is None and now - instance.heartbeat_at <= stale_after
    )
    if job_counts is None:
        jobs = job_list()
        job_counts = (jobs.count(), jobs.filter(paused=True).count())
    return SchedulerStatus(
        running=running,
        instance=instance,
        heartbeat_age_seconds=(now - instance.heartbeat_at).total_seconds() if instance else None,
        registered_jobs=job_counts[0],
        paused_jobs=job_counts[1],
    )


def scheduler_down(*, now: datetime | None = None) -> bool:
    """True when no scheduler runs jobs (the rule of ``scheduler_runs_jobs``)."""
    return not scheduler_runs_jobs(
        scheduler_roles(now=now), lambda: scheduler_status(now=now).running
    )


def scheduler_runs_jobs(roles: "SchedulerRoles", heartbeat_running: Callable[[], bool]) -> bool:
    """Whether a scheduler runs jobs: a live instance holds the lease.

    Without a lease row (no scheduler started since leases exist) the latest heartbeat
    decides, as in ``scheduler_status``; ``heartbeat_running`` is called only then, so
    the status is not read when the lease answers.
    """
    if roles.lease is None:
        return heartbeat_running()
    return roles.active is not None


@dataclass(frozen=True)
class InstanceRole:
    instance: SchedulerInstance
    role: str  # "active" or "standby"
    heartbeat_age_seconds: float

    def as_dict(self) -> dict:
        return {
            "id": self.instance.pk,
            "hostname": self.instance.hostname,
            "pid": self.instance.pid,
            "role": self.role,
            "started_at": iso_utc(self.instance.started_at),
            "heartbeat_at": iso_utc(self.instance.heartbeat_at),
            "heartbeat_age_seconds": self.heartbeat_age_seconds,
        }


@dataclass(frozen=True)
class SchedulerRoles:
    """The live scheduler instances, which one holds the lease, and until when."""

    lease: object | None  # SchedulerLease
    active: InstanceRole | None
    standby: list[InstanceRole]

    def as_dict(self) -> dict:
        lease = self.lease
        return {
            "active": self.active.as_dict() if self.active else None,
            "standby": [s.as_dict() for s in self.standby],
            "lease_expires_at": iso_utc(lease.expires_at) if lease else None,
            "lease_acquired_at": iso_utc(lease.acquired_at) if lease else None,
        }


def scheduler_roles(*, now: datetime | None = None) -> SchedulerRoles:
    """Live instances (fresh heartbeat, no stop recorded), the lease holder as active."""
    now = now or timezone.now()
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    holder = lease.holder_id if lease and lease.expires_at >= now else None
    active, standby = None, []
    for instance in live_instances(now=now).order_by("started_at"):
        role = InstanceRole(
            instance,
            "active" if instance.pk == holder else "standby",
            (now - instance.heartbeat_at).total_seconds(),
        )
        if role.role == "active":
            active = role
        else:
            standby.append(role)
    return SchedulerRoles(lease=lease, active=active, standby=standby)


@dataclass(frozen=True)
class SchedulerOverview:
    """The latest instance's heartbeat, the lease roles, and whether a scheduler runs jobs."""

    status: SchedulerStatus
    roles: SchedulerRoles

    @property
    def running(self) -> bool:
        """``scheduler_runs_jobs`` on the figures already read."""
        return scheduler_runs_jobs(self.roles, lambda: self.status.running)


def scheduler_overview(
    *, now: datetime | None = None, job_counts: tuple[int, int] | None = None
) -> SchedulerOverview:
    """Status and roles in one go (five queries, three given ``job_counts``)."""
    now = now or timezone.now()
    return SchedulerOverview(
        status=scheduler_status(now=now, job_counts=job_counts), roles=scheduler_roles(now=now)
    )


def scheduler_instance_start() -> SchedulerInstance:
    """Record that a scheduler process on this host started."""
    now = timezone.now()
    return SchedulerInstance.objects.create(
        hostname=socket.gethostname(), pid=os.getpid(), started_at=now, heartbeat_at=now
    )


def scheduler_instance_heartbeat(*, instance: SchedulerInstance) -> None:
    now = timezone.now()
    SchedulerInstance.objects.filter(pk=instance.pk).update(heartbeat_at=now)
    instance.heartbeat_at = now


def scheduler_instance_stop(*, instance: SchedulerInstance) -> None:
    now = timezone.now()
    SchedulerInstance.objects.filter(pk=instance.pk).update(heartbeat_at=now, stopped_at=now)
    instance.stopped_at = now


def live_instances(*, now: datetime | None = None):
    """Instances that have not recorded their stop and whose heartbeat is fresh."""
    now = now or timezone.now()
    stale = conf.get("HEARTBEAT_INTERVAL") * conf.get("HEARTBEAT_STALE_AFTER")
    return SchedulerInstance.objects.filter(
        stopped_at__isnull=True, heartbeat_at__gte=now - timedelta(seconds=stale)
    )


LEASE_NAME = "default"


def lease_ttl_seconds() -> float:
    """A lease lives as long as a heartbeat stays fresh."""
    return conf.get("HEARTBEAT_INTERVAL") * conf.get("HEARTBEAT_STALE_AFTER")


def lease_takeover_bound_seconds() -> float:
    """Longest time from the holder's last renewal until a standby holds the lease."""
    return lease_ttl_seconds() + conf.get("HEARTBEAT_INTERVAL")


def scheduler_lease_acquire(*, instance: SchedulerInstance) -> bool:
    """Take the lease if it is free, expired or already ours; True when we hold it.

    The conditional UPDATE is the lock: of two instances racing for an expired lease,
    the second matches no row. A holder whose lease expired is recorded as stopped, so
    its in-flight runs count as orphans (it died, or it lost the lease and will stop).
    """
    now = timezone.now()
    expires = now + timedelta(seconds=lease_ttl_seconds())
    lease, _ = SchedulerLease.objects.get_or_create(name=LEASE_NAME, defaults={"expires_at": now})
    leases = SchedulerLease.objects.filter(name=LEASE_NAME)
    if leases.filter(holder=instance).update(renewed_at=now, expires_at=expires):
        return True
    previous = lease.holder_id
    taken = (
        leases.filter(Q(holder__isnull=True) | Q(expires_at__lt=now))
        .exclude(holder=instance)
        .update(holder=instance, acquired_at=now, renewed_at=now, expires_at=expires)
    )
    if not taken:
        return False
    if previous is not None and previous != instance.pk:
        # A dead holder's gap (gaps.py) starts at its last heartbeat.
        instance.took_over_from = SchedulerInstance.objects.filter(pk=previous).first()
        SchedulerInstance.objects.filter(pk=previous, stopped_at__isnull=True).update(
            stopped_at=now
        )
        logger.warning("Took over the scheduler lease from instance %s (expired)", previous)
    return True


def scheduler_lease_renew(*, instance: SchedulerInstance) -> bool:
    """Extend our lease; False when another instance holds it now (we lost it)."""
    now = timezone.now()
    return bool(
        SchedulerLease.objects.filter(name=LEASE_NAME, holder=instance).update(
            renewed_at=now, expires_at=now + timedelta(seconds=lease_ttl_seconds())
        )
    )


def scheduler_lease_release(*, instance: SchedulerInstance) -> None:
    """Give the lease up at a clean stop, so a standby takes over at its next poll."""
    SchedulerLease.objects.filter(name=LEASE_NAME, holder=instance).update(
        holder=None, expires_at=timezone.now()
    )
