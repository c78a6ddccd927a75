"""Write-side use cases: syncing declarations, scheduler instances, abandoned runs, triggers."""

import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore

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
from scheduler_monitor.selectors import job_is_busy, paused_jobs_still_scheduled

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


# --- API writes


class JobNotFound(LookupError):
    """No declared (non-removed) job has this id."""


class JobBusy(RuntimeError):
    """A new run would overlap one that is running or queued."""


def _declared_job(job_id: str, *, lock: bool = False) -> JobDefinition:
    jobs = JobDefinition.objects.filter(job_id=job_id, removed=False)
    if lock:
        jobs = jobs.select_for_update()
    job = jobs.first()
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist or is no longer declared")
    return job


def job_trigger(
    *, job_id: str, requested_by: str = "", allow_concurrent: bool = False
) -> TriggerRequest:
    """Queue a manual run for the scheduler process; refuse to overlap unless allowed."""
    with transaction.atomic():
        # The row lock makes two simultaneous triggers of one job queue one after the other,
        # so the second one sees the first one's pending request.
        job = _declared_job(job_id, lock=True)
        if not allow_concurrent:
            reason = job_is_busy(job=job)
            if reason:
                raise JobBusy(reason)
        return TriggerRequest.objects.create(
            job=job, requested_by=requested_by[:150], allow_concurrent=allow_concurrent
        )


def _stored_job(job_id: str):
    """The job as django-apscheduler stores it, with the store to write it back."""
    store = DjangoJobStore()
    return store, store.lookup_job(job_id)


def job_pause(*, job_id: str) -> JobDefinition:
    """Pause a job: flag it and clear its next run time in the job store.

    The running scheduler re-reads the store on its next wake-up and a restarted one
    pauses every flagged job, so either way the job stops running.
    """
    with transaction.atomic():
        job = _declared_job(job_id, lock=True)
        JobDefinition.objects.filter(pk=job.pk).update(paused=True, updated_at=timezone.now())
        store, stored = _stored_job(job_id)
        if stored is not None and stored.next_run_time is not None:
            stored.next_run_time = None
            store.update_job(stored)
    return job


def job_resume(*, job_id: str) -> JobDefinition:
    """Resume a job: clear the flag and give it its next fire time from its own trigger."""
    with transaction.atomic():
        job = _declared_job(job_id, lock=True)
        JobDefinition.objects.filter(pk=job.pk).update(paused=False, updated_at=timezone.now())
        store, stored = _stored_job(job_id)
        if stored is not None and stored.next_run_time is None:
            tz = getattr(stored.trigger, "timezone", None) or UTC
            stored.next_run_time = stored.trigger.get_next_fire_time(None, datetime.now(tz))
            store.update_job(stored)
    return job


BATCH_ACTIONS = ("trigger", "pause", "resume")


@dataclass(frozen=True)
class BatchResult:
    """What one job of a batch got: an HTTP-like status and a message."""

    job_id: str
    ok: bool
    status: int
    message: str
    trigger_id: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def jobs_batch(
    *, action: str, job_ids: Iterable[str], requested_by: str = "", allow_concurrent: bool = False
) -> list[BatchResult]:
    """Apply one action to many jobs; a job that fails does not stop the others."""
    if action not in BATCH_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(BATCH_ACTIONS)}")
    results = []
    for job_id in dict.fromkeys(job_ids):  # de-duplicated, order kept
        try:
            if action == "trigger":
                request = job_trigger(
                    job_id=job_id, requested_by=requested_by, allow_concurrent=allow_concurrent
                )
                results.append(BatchResult(job_id, True, 202, "trigger requested", request.pk))
            elif action == "pause":
                job_pause(job_id=job_id)
                results.append(BatchResult(job_id, True, 200, "paused"))
            else:
                job_resume(job_id=job_id)
                results.append(BatchResult(job_id, True, 200, "resumed"))
        except JobNotFound as exc:
            results.append(BatchResult(job_id, False, 404, str(exc)))
        except JobBusy as exc:
            results.append(BatchResult(job_id, False, 409, str(exc)))
    return results


def job_pauses_reapply(*, scheduler) -> list[str]:
    """Pause again, in a running scheduler, jobs flagged paused that it still schedules.

    A scheduler that was handing the job to its executor when the pause came writes the
    job's old next run time back; this undoes that write-back within one maintenance step.
    """
    job_ids = paused_jobs_still_scheduled()
    for job_id in job_ids:
        try:
            scheduler.pause_job(job_id, jobstore="default")
        except JobLookupError:
            continue
    if job_ids:
        logger.info("Re-applied the pause of %s", ", ".join(job_ids))
    return job_ids
