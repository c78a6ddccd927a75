"""Schedule overrides through the API: ``PATCH jobs/{job_id}`` and ``POST .../schedule/reset``."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers

from scheduler_monitor import job_control, schedule_overrides, schedules
from scheduler_monitor.api import serializers as s
from scheduler_monitor.api.auth import CanChangeJobs, CanViewJobs
from scheduler_monitor.api.envelope import ApiError, envelope
from scheduler_monitor.api.views.base import JOB_ID, ApiView, job_not_found
from scheduler_monitor.api.views.jobs import JobDetailView
from scheduler_monitor.audit import request_actor
from scheduler_monitor.registry import JOB_ID_PATTERN, MAX_RETRIES
from scheduler_monitor.schedule_overrides import MAX_SECONDS, MIN_INTERVAL_SECONDS

SCHEDULE_STATE = inline_serializer(
    name="JobScheduleState",
    fields={
        "job_id": serializers.CharField(),
        "schedule": serializers.CharField(),
        "declared_schedule": serializers.CharField(),
        "overridden": serializers.BooleanField(),
        "overrides": serializers.DictField(),
        "expected_interval_seconds": serializers.FloatField(allow_null=True),
        "grace_seconds": serializers.FloatField(allow_null=True),
        "max_runtime_seconds": serializers.FloatField(allow_null=True),
        "timeout_seconds": serializers.FloatField(allow_null=True),
        "retries": serializers.IntegerField(),
        "retry_backoff_seconds": serializers.FloatField(),
        "next_fire_times": serializers.ListField(child=s.UtcDateTimeField()),
    },
)


def _seconds(minimum: float, *, exclusive: bool = True) -> dict:
    return {
        "type": "number",
        "minimum": minimum,
        "exclusiveMinimum": exclusive,
        "maximum": MAX_SECONDS,
        "nullable": True,
    }


# A crontab the API surely accepts (numbers in range, *, */step); the server accepts every
# APScheduler crontab and answers 400 naming "cron" for the rest.
_CRON_FIELDS = (
    r"(\*|\*/([1-9]|[1-5][0-9])|[1-5]?[0-9])",
    r"(\*|\*/([1-9]|1[0-9]|2[0-3])|1?[0-9]|2[0-3])",
    r"(\*|\*/([1-9]|[12][0-9])|[1-9]|1[0-9]|2[0-8])",
    r"(\*|\*/([1-9]|1[0-2])|[1-9]|1[0-2])",
    r"(\*|[0-6])",
)
SCHEDULE_BODY = {
    "type": "object",
    "description": (
        "Fields to override; null clears one override; cron or seconds, not both. "
        "An empty object changes nothing."
    ),
    "additionalProperties": False,
    "properties": {
        "cron": {
            "type": "string",
            "nullable": True,
            "pattern": "^" + " ".join(_CRON_FIELDS) + "$",
            "example": "*/5 * * * *",
        },
        "seconds": _seconds(MIN_INTERVAL_SECONDS, exclusive=False),
        "grace_seconds": _seconds(0),
        "max_runtime_seconds": _seconds(0),
        "timeout_seconds": _seconds(0),
        "retries": {"type": "integer", "minimum": 0, "maximum": MAX_RETRIES, "nullable": True},
        "retry_backoff_seconds": _seconds(0, exclusive=False),
    },
    "not": {
        "required": ["cron", "seconds"],
        "properties": {"cron": {"type": "string"}, "seconds": {"type": "number"}},
    },
}
SCHEDULE_RESPONSES = {
    200: s.enveloped("JobScheduleResponse", SCHEDULE_STATE),
    **s.errors(400, 401, 403, 404),
}


def schedule_state(job) -> dict:
    overrides = schedules.overrides_of(job)
    to_utc = s.UtcDateTimeField().to_representation
    return {
        "job_id": job.job_id,
        "schedule": job.schedule,
        "declared_schedule": schedules.declared_of(job).get("schedule") or "",
        "overridden": bool(overrides),
        "overrides": overrides,
        "expected_interval_seconds": job.expected_interval_seconds,
        "grace_seconds": job.grace_seconds,
        "max_runtime_seconds": job.max_runtime_seconds,
        "timeout_seconds": job.timeout_seconds,
        "retries": job.retries,
        "retry_backoff_seconds": job.retry_backoff_seconds,
        "next_fire_times": [to_utc(t) for t in schedule_overrides.next_fire_times(job)],
    }


def change_schedule(request, job_id: str, perform) -> dict:
    if not JOB_ID_PATTERN.match(job_id):
        raise job_not_found(job_id)
    try:
        job = perform(job_id=job_id, actor=request_actor(request))
    except job_control.JobNotFound as exc:
        raise job_not_found(job_id, str(exc)) from exc
    except schedule_overrides.ScheduleInvalid as exc:
        raise ApiError(str(exc), code=400, data={"field": exc.field}) from exc
    return envelope(schedule_state(job))


class JobView(JobDetailView):
    """One job: GET reads it (view permission), PATCH overrides its schedule (change)."""

    def get_permissions(self):
        if self.request.method == "PATCH":
            return [CanChangeJobs()]
        return [CanViewJobs()]

    @extend_schema(
        operation_id="job_schedule_change",
        summary="Override a job's schedule, limits or retries (null clears one override)",
        parameters=[JOB_ID],
        request={"application/json": SCHEDULE_BODY},
        responses=SCHEDULE_RESPONSES,
    )
    def patch(self, request, job_id):
        changes = request.data
        if not isinstance(changes, dict):
            raise ApiError("the body must be a JSON object", code=400, data={"field": None})

        def perform(*, job_id, actor):
            return schedule_overrides.job_schedule_update(
                job_id=job_id, changes=dict(changes), actor=actor
            )

        return change_schedule(request, job_id, perform)


class JobScheduleResetView(ApiView):
    """Drop every override of a job: back to its declared schedule."""

    permission_classes = [CanChangeJobs]

    @extend_schema(
        operation_id="job_schedule_reset",
        summary="Reset a job to its declared schedule, limits and retries",
        parameters=[JOB_ID],
        request=None,
        responses=SCHEDULE_RESPONSES,
    )
    def post(self, request, job_id):
        return change_schedule(request, job_id, schedule_overrides.job_schedule_reset)
