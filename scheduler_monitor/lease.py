"""One active scheduler per database: the standby loop around the scheduler lease.

A ``runapscheduler`` that finds the lease held waits here as a standby: it keeps its own
heartbeat (so status pages list it) and tries the lease at each heartbeat. The holder
renews the lease with its heartbeat; when it stops cleanly it releases the lease, and when
it dies the lease expires after ``scheduler_instances.lease_ttl_seconds()``. Either way a standby
holds the lease within ``scheduler_instances.lease_takeover_bound_seconds()``.
"""

import logging
import threading

from django.db import close_old_connections

from scheduler_monitor import conf, scheduler_instances
from scheduler_monitor.models import SchedulerInstance
from scheduler_monitor.recording import DB_ERRORS

logger = logging.getLogger(__name__)


def try_acquire(instance: SchedulerInstance) -> bool:
    """Try the lease once; a database error counts as not acquired."""
    try:
        return scheduler_instances.scheduler_lease_acquire(instance=instance)
    except DB_ERRORS as exc:
        logger.warning("Could not try the scheduler lease, will retry: %s", exc)
        close_old_connections()
        return False


def wait_for_lease(instance: SchedulerInstance, stop: threading.Event) -> bool:
    """Stand by until this instance holds the lease (True) or ``stop`` is set (False)."""
    interval = conf.get("HEARTBEAT_INTERVAL")
    logger.info(
        "Scheduler %s is standby: another instance holds the lease; taking over within %ss "
        "of its stop",
        instance,
        scheduler_instances.lease_takeover_bound_seconds(),
    )
    while not stop.wait(interval):
        try:
            close_old_connections()
            scheduler_instances.scheduler_instance_heartbeat(instance=instance)
        except DB_ERRORS as exc:
            logger.warning("Standby heartbeat failed, will retry: %s", exc)
            close_old_connections()
            continue
        if try_acquire(instance):
            logger.info("Scheduler %s took over the lease: now active", instance)
            return True
    return False


def renew_or_stop(instance: SchedulerInstance, stop) -> None:
    """Renew the lease with the heartbeat; stop this scheduler if another holds it now."""
    if not scheduler_instances.scheduler_lease_renew(instance=instance):
        logger.error("Scheduler %s lost its lease to another instance: stopping", instance)
        stop()


def release(instance: SchedulerInstance | None) -> None:
    if instance is None:
        return
    try:
        scheduler_instances.scheduler_lease_release(instance=instance)
    except DB_ERRORS as exc:
        logger.warning("Could not release the scheduler lease (it will expire): %s", exc)
