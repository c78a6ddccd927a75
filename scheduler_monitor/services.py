"""Write-side use cases: syncing declarations, scheduler instances, abandoned runs, triggers."""

import logging
import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.models import (
    JobDefinition,
    JobRun,
    RunStatus,
    SchedulerInstance,
    TriggerRequest,
    TriggerStatus,
)
from scheduler_monitor.registry import JobSpec

logger = logging.getLogger(__name__)


def job_definitions_sync(*, specs: Iterable[JobSpec]) -> list[JobDefinition]:
    """Upsert a row per declared job; mark rows no longer declared as removed (never delete)."""
    specs = list(specs)
    declared = {spec.job_id for spec in specs}
    with transaction.atomic():
        existing = {job.job_id: job for job in JobDefinition.objects.select_for_update()}
        synced = []
        for spec in specs:
            values = {
                "name": spec.name,
                "owner": spec.owner,
                "category": spec.category,
                "description": spec.description,
                "callable_path": spec.callable_path,
                "schedule": spec.schedule,
                "removed": False,
            }
            job = existing.get(spec.job_id)
            if job is None:
                job = JobDefinition.objects.create(job_id=spec.job_id, **values)
            elif any(getattr(job, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(job, key, value)
                job.save(update_fields=[*values, "updated_at"])
            synced.append(job)
        JobDefinition.objects.exclude(job_id__in=declared).filter(removed=False).update(
            removed=True, updated_at=timezone.now()
        )
    return synced


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


def job_runs_abandon(*, runs, reason: str) -> int:
    """Mark running runs as abandoned (counted as failures); return how many were marked."""
    now = timezone.now()
    marked = 0
    for run in runs.filter(status=RunStatus.RUNNING).select_related("job"):
        with transaction.atomic():
            updated = JobRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                status=RunStatus.ABANDONED, finished_at=now, recorded_at=now, error=reason
            )
            if not updated:
                continue
            JobDefinition.objects.filter(pk=run.job_id).update(failure_count=F("failure_count") + 1)
            # Only the job's latest run decides its last status.
            JobDefinition.objects.filter(pk=run.job_id).filter(
                Q(last_run_at__isnull=True) | Q(last_run_at__lte=run.started_at)
            ).update(
                last_status=RunStatus.ABANDONED,
                last_run_at=run.started_at,
                last_duration_ms=None,
                last_error=reason,
            )
            marked += 1
    if marked:
        logger.warning("Marked %s run(s) abandoned: %s", marked, reason)
    return marked


def job_runs_abandon_orphans(*, current: SchedulerInstance) -> int:
    """Abandon runs left running by scheduler instances that are no longer alive."""
    alive = live_instances().exclude(pk=current.pk).values_list("hostname", "pid")
    runs = JobRun.objects.filter(status=RunStatus.RUNNING)
    for hostname, pid in alive:
        runs = runs.exclude(hostname=hostname, pid=pid)
    runs = runs.exclude(hostname=current.hostname, pid=current.pid)
    return job_runs_abandon(runs=runs, reason="The scheduler running this job stopped or died")


def trigger_requests_claim(*, limit: int = 50) -> list[TriggerRequest]:
    """Claim pending trigger requests for this scheduler; each is claimed exactly once."""
    claimed = []
    pending = TriggerRequest.objects.filter(status=TriggerStatus.PENDING).order_by("requested_at")
    for request in pending.select_related("job")[:limit]:
        updated = TriggerRequest.objects.filter(pk=request.pk, status=TriggerStatus.PENDING).update(
            status=TriggerStatus.RUNNING, picked_at=timezone.now()
        )
        if updated:
            request.status = TriggerStatus.RUNNING
            claimed.append(request)
    return claimed


def trigger_request_link_run(*, request_id: int, run_id: int | None) -> None:
    if run_id is not None:
        TriggerRequest.objects.filter(pk=request_id).update(run_id=run_id)


def trigger_request_finish(*, request_id: int, succeeded: bool, error: str = "") -> None:
    TriggerRequest.objects.filter(pk=request_id).update(
        status=TriggerStatus.DONE if succeeded else TriggerStatus.FAILED,
        finished_at=timezone.now(),
        error=error,
    )


# --- Dashboard writes
# A minimal subset of the API branch's "API writes" with the same names, signatures and
# exceptions, so that at merge this section can be deleted and callers keep working.


class JobNotFound(LookupError):
    """No declared (non-removed) job has this id."""


class JobBusy(RuntimeError):
    """A new run would overlap one that is running or queued (raised by the API's version)."""


def _declared_job(job_id: str) -> JobDefinition:
    job = JobDefinition.objects.filter(job_id=job_id, removed=False).first()
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist or is no longer declared")
    return job


def job_trigger(
    *, job_id: str, requested_by: str = "", allow_concurrent: bool = False
) -> TriggerRequest:
    """Ask the running scheduler to run the job now (it picks pending requests up)."""
    job = _declared_job(job_id)
    return TriggerRequest.objects.create(
        job=job, requested_by=requested_by[:150], allow_concurrent=allow_concurrent
    )


def _set_paused(job_id: str, *, paused: bool) -> JobDefinition:
    """Flag the job and pause/resume it in django-apscheduler's store, as ``Job.pause()`` does.

    The running scheduler re-reads the store when its maintenance thread wakes it up.
    """
    from django_apscheduler.jobstores import DjangoJobStore

    with transaction.atomic():
        job = _declared_job(job_id)
        JobDefinition.objects.filter(pk=job.pk).update(paused=paused, updated_at=timezone.now())
        store = DjangoJobStore()
        stored = store.lookup_job(job_id)
        # Not in the store yet: the scheduler reads ``paused`` when it registers the job.
        if stored is not None and (stored.next_run_time is None) != paused:
            stored.next_run_time = (
                None if paused else stored.trigger.get_next_fire_time(None, timezone.now())
            )
            store.update_job(stored)
    job.paused = paused
    return job


def job_pause(*, job_id: str) -> JobDefinition:
    """Stop scheduling the job: mark it paused and clear its next run in the job store."""
    return _set_paused(job_id, paused=True)


def job_resume(*, job_id: str) -> JobDefinition:
    """Schedule the job again from its trigger's next fire time."""
    return _set_paused(job_id, paused=False)
