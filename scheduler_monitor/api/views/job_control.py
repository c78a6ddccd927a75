"""The job control endpoints: trigger, trigger requests, pause, resume, batch."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied

from scheduler_monitor import (
    job_control,
    scheduler_instances,
)
from scheduler_monitor.api import serializers as s
from scheduler_monitor.api.auth import (
    CHANGE_PERMISSION,
    TRIGGER_PERMISSION,
    CanChangeJobs,
    CanTriggerJobs,
    CanWriteJobs,
)
from scheduler_monitor.api.envelope import ApiError, envelope
from scheduler_monitor.api.views.base import JOB_ID, ApiView, get_job, job_not_found
from scheduler_monitor.registry import JOB_ID_PATTERN

JOB_STATE_RESPONSES = {
    200: s.enveloped("JobStateResponse", s.JOB_STATE),
    **s.errors(401, 403, 404),
}


def job_state(job) -> dict:
    return {
        "job_id": job.job_id,
        "paused": job.paused,
        "next_run_time": s.UtcDateTimeField().to_representation(job.next_run_time),
        "in_job_store": job.in_job_store,
    }


class JobTriggerView(ApiView):
    """Queue a manual run; the scheduler process picks it up within seconds."""

    permission_classes = [CanTriggerJobs]

    @extend_schema(
        operation_id="job_trigger",
        summary="Ask the scheduler process to run a job now",
        parameters=[JOB_ID, s.TriggerQuerySerializer],
        request=s.TriggerBodySerializer,
        responses={
            202: s.enveloped("TriggerResponse", s.TRIGGERED),
            **s.errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request, job_id):
        allow = self.query(s.TriggerQuerySerializer)["allow_concurrent"]
        allow = allow or self.body(s.TriggerBodySerializer)["allow_concurrent"]
        if not JOB_ID_PATTERN.match(job_id):
            raise job_not_found(job_id)
        try:
            trigger = job_control.job_trigger(
                job_id=job_id, requested_by=request.user.get_username(), allow_concurrent=allow
            )
        except job_control.JobNotFound as exc:
            raise job_not_found(job_id, str(exc)) from exc
        except job_control.JobBusy as exc:
            raise ApiError(
                f"{exc}; add ?allow_concurrent=1 to run it anyway",
                code=status.HTTP_409_CONFLICT,
                data={"field": "job_id", "job_id": job_id},
            ) from exc
        url = reverse("scheduler-api-trigger", kwargs={"pk": trigger.pk})
        trigger = job_control.trigger_request_get(pk=trigger.pk)
        data = {
            "trigger": s.TriggerRequestSerializer(trigger).data,
            "url": url,
            "scheduler_running": not scheduler_instances.scheduler_down(),
        }
        return envelope(data, code=202, message="accepted", headers={"Location": url})


class TriggerDetailView(ApiView):
    """A trigger request's state and, once started, its run."""

    @extend_schema(
        operation_id="trigger_detail",
        summary="A trigger request: pending, running, done or failed, and its run",
        responses={
            200: s.enveloped("TriggerRequestResponse", s.TriggerRequestSerializer()),
            **s.errors(401, 403, 404),
        },
    )
    def get(self, request, pk):
        # Ids past a 64-bit integer cannot exist (and the database would refuse the query).
        trigger = job_control.trigger_request_get(pk=pk) if pk < 2**63 else None
        if trigger is None:
            raise ApiError(f"trigger request {pk} does not exist", code=404, data={"field": "id"})
        return envelope(s.TriggerRequestSerializer(trigger).data)


class JobPauseView(ApiView):
    """Pause or resume a job through django-apscheduler's job store."""

    permission_classes = [CanChangeJobs]
    perform = staticmethod(job_control.job_pause)

    @extend_schema(
        operation_id="job_pause",
        summary="Pause a job: the scheduler stops running it until resumed",
        parameters=[JOB_ID],
        request=None,
        responses=JOB_STATE_RESPONSES,
    )
    def post(self, request, job_id):
        if not JOB_ID_PATTERN.match(job_id):
            raise job_not_found(job_id)
        try:
            self.perform(job_id=job_id)
        except job_control.JobNotFound as exc:
            raise job_not_found(job_id, str(exc)) from exc
        return envelope(job_state(get_job(job_id)))


class JobResumeView(JobPauseView):
    """Resume a job: its next run time comes from its own trigger again."""

    perform = staticmethod(job_control.job_resume)

    @extend_schema(
        operation_id="job_resume",
        summary="Resume a job: its next run time comes from its trigger again",
        parameters=[JOB_ID],
        request=None,
        responses=JOB_STATE_RESPONSES,
    )
    def post(self, request, job_id):
        return super().post(request, job_id)


class JobBatchView(ApiView):
    """Apply trigger, pause or resume to many jobs; one result per job."""

    permission_classes = [CanWriteJobs]

    @extend_schema(
        operation_id="jobs_batch",
        summary="Trigger, pause or resume many jobs, with a result per job",
        request=s.BatchBodySerializer,
        responses={200: s.enveloped("BatchResponse", s.BATCH_DATA), **s.errors(400, 401, 403)},
    )
    def post(self, request):
        body = self.body(s.BatchBodySerializer)
        needed = TRIGGER_PERMISSION if body["action"] == "trigger" else CHANGE_PERMISSION
        if not request.user.has_perm(needed):
            raise PermissionDenied(f"You need the {needed!r} permission to {body['action']} jobs.")
        results = job_control.jobs_batch(requested_by=request.user.get_username(), **body)
        succeeded = sum(r.ok for r in results)
        return envelope(
            {
                "action": body["action"],
                "succeeded": succeeded,
                "failed": len(results) - succeeded,
                "results": [r.as_dict() for r in results],
            }
        )
