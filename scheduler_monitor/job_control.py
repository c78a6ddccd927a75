"""Job control: manual triggers, pause and resume, batches of them, and re-applying
pauses a running scheduler wrote back.
"""

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob

from scheduler_monitor.jobs import job_list
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus, TriggerRequest, TriggerStatus

logger = logging.getLogger(__name__)


def trigger_request_get(*, pk: int) -> TriggerRequest | None:
    return TriggerRequest.objects.select_related("job", "run", "run__job").filter(pk=pk).first()


def job_is_busy(*, job: JobDefinition) -> str | None:
    """Why a new run of the job would overlap another one, or None when it would not."""
    running = JobRun.objects.filter(job=job, status=RunStatus.RUNNING).order_by("-id").first()
    if running is not None:
        return f"job {job.job_id!r} is running (run {running.pk})"
    pending = (
        TriggerRequest.objects.filter(job=job, status=TriggerStatus.PENDING).order_by("-id").first()
    )
    if pending is not None:
        return f"job {job.job_id!r} already has a pending trigger request ({pending.pk})"
    return None


def paused_jobs_still_scheduled() -> list[str]:
    """Ids of jobs flagged paused whose stored job still has a next run time."""
    stored = DjangoJob.objects.filter(id=OuterRef("job_id"), next_run_time__isnull=False)
    return list(
        job_list().filter(paused=True).filter(Exists(stored)).values_list("job_id", flat=True)
    )


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
