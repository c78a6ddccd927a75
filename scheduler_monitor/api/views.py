"""The JSON API under ``/api/v1/scheduler/``: thin views over the domain modules."""

from django.urls import reverse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from scheduler_monitor import (
    alert_rules,
    heatmaps,
    job_control,
    jobs,
    runs,
    schedule_health,
    scheduler_instances,
    summary,
)
from scheduler_monitor.api import serializers as s
from scheduler_monitor.api.auth import (
    AUTHENTICATION_CLASSES,
    CHANGE_PERMISSION,
    TRIGGER_PERMISSION,
    CanChangeJobs,
    CanTriggerJobs,
    CanViewJobs,
    CanWriteJobs,
)
from scheduler_monitor.api.envelope import ApiError, envelope, exception_handler
from scheduler_monitor.api.parsers import SafeJSONParser
from scheduler_monitor.manual_capacity import TriggerLimitReached
from scheduler_monitor.registry import JOB_ID_PATTERN
from scheduler_monitor.stats import EMPTY_STATS

READ_ERRORS = s.errors(400, 401, 403)
JOB_STATE_RESPONSES = {
    200: s.enveloped("JobStateResponse", s.JOB_STATE),
    **s.errors(401, 403, 404),
}
RECENT_RUNS = 20  # runs shown with one job
START_DELAY_HOURS = 24  # start delay statistics of one job cover its runs of the last day
JOB_ID = OpenApiParameter("job_id", str, OpenApiParameter.PATH, description="The job's id.")


class ApiView(APIView):
    """Base of every endpoint: Bearer token or session, JSON only, errors in the envelope."""

    authentication_classes = AUTHENTICATION_CLASSES
    permission_classes = [CanViewJobs]
    renderer_classes = [JSONRenderer]
    parser_classes = [SafeJSONParser]
    schema = AutoSchema()

    def get_exception_handler(self):
        return exception_handler

    def query(self, serializer_class) -> dict:
        """Validated query parameters; a bad one (an empty one too) is a 400 naming it."""
        # A plain dict, not the QueryDict: DRF would read "?hours=" as "not given".
        serializer = serializer_class(data=self.request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def body(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def job_not_found(job_id: str, message: str | None = None) -> ApiError:
    return ApiError(
        message or f"job {job_id!r} does not exist",
        code=status.HTTP_404_NOT_FOUND,
        data={"field": "job_id", "job_id": job_id},
    )


def get_job(job_id: str):
    """The job with its job-store fields, or a 404."""
    # An id that could never be declared is not looked up (PostgreSQL rejects NUL bytes).
    job = jobs.job_api_get(job_id=job_id) if JOB_ID_PATTERN.match(job_id) else None
    if job is None:
        raise job_not_found(job_id)
    return job


def job_state(job) -> dict:
    return {
        "job_id": job.job_id,
        "paused": job.paused,
        "next_run_time": s.UtcDateTimeField().to_representation(job.next_run_time),
        "in_job_store": job.in_job_store,
    }


class StatusView(ApiView):
    """Whether a scheduler runs jobs (lease-aware), the active and standby instances, counts."""

    @extend_schema(
        operation_id="scheduler_status",
        summary="Scheduler status",
        responses={200: s.enveloped("StatusResponse", s.StatusSerializer()), **READ_ERRORS},
    )
    def get(self, request):
        overview = scheduler_instances.scheduler_overview()
        current = overview.status
        data = {
            "running": overview.running,
            "state": "running" if overview.running else "stopped",
            "heartbeat_age_seconds": current.heartbeat_age_seconds,
            "registered_jobs": current.registered_jobs,
            "paused_jobs": current.paused_jobs,
            "instance": current.instance,
            **overview.roles.as_dict(),
        }
        return envelope(s.StatusSerializer(data).data)


class JobListView(ApiView):
    """Every declared job with its schedule, job-store next run time and last run."""

    @extend_schema(
        operation_id="jobs_list",
        summary="List jobs",
        parameters=[
            s.JobListQuerySerializer,
            *(
                OpenApiParameter(name, s.TEXT_PARAM_SCHEMA, description=field.help_text)
                for name, field in s.JobListQuerySerializer().fields.items()
                if isinstance(field, s.TextParamField)
            ),
        ],
        responses={
            200: s.enveloped("JobListResponse", s.listing("JobList", "jobs", s.JobSerializer())),
            **READ_ERRORS,
        },
    )
    def get(self, request):
        listed = schedule_health.with_job_health(
            list(jobs.job_api_list(**self.query(s.JobListQuerySerializer)))
        )
        return envelope({"total": len(listed), "jobs": s.JobSerializer(listed, many=True).data})


class JobDetailView(ApiView):
    """One job (removed ones too): window statistics, start delay, stuck runs, last 20 runs."""

    @extend_schema(
        operation_id="job_detail",
        summary="One job with its window statistics and recent runs",
        parameters=[JOB_ID],
        responses={
            200: s.enveloped("JobDetailResponse", s.JobDetailSerializer()),
            **s.errors(401, 403, 404),
        },
    )
    def get(self, request, job_id):
        (job,) = schedule_health.with_job_health([get_job(job_id)])
        job.statistics = jobs.job_window_statistics(job_id=job.job_id)
        delays = schedule_health.job_lateness_statistics(
            hours=START_DELAY_HOURS, job_ids=[job.job_id]
        )
        job.start_delay = {"hours": START_DELAY_HOURS, "stats": delays.get(job.job_id, EMPTY_STATS)}
        job.recent_runs = list(runs.job_runs(job=job)[:RECENT_RUNS])
        return envelope(s.JobDetailSerializer(job).data)


class JobRunsView(ApiView):
    """A job's runs, newest first, page by page (page_size at most 500)."""

    @extend_schema(
        operation_id="job_runs",
        summary="A job's run history, newest first",
        parameters=[JOB_ID, s.RunListQuerySerializer],
        responses={200: s.enveloped("RunPageResponse", s.RUN_PAGE), **s.errors(400, 401, 403, 404)},
    )
    def get(self, request, job_id):
        params = self.query(s.RunListQuerySerializer)
        job = get_job(job_id)
        page_number, page_size = params.pop("page"), params.pop("page_size")
        history = runs.job_runs(job=job, **params)
        try:
            page = runs.job_runs_page(runs=history, page=page_number, page_size=page_size)
        except runs.PageOutOfRange as exc:
            raise ApiError(str(exc), code=404, data={"field": "page"}) from exc

        def link(number):
            query = request.query_params.copy()
            query["page"] = number
            return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

        return envelope(
            {
                "count": page.count,
                "page": page.page,
                "page_size": page.page_size,
                "pages": page.pages,
                "next": link(page.page + 1) if page.page < page.pages else None,
                "previous": link(page.page - 1) if page.page > 1 else None,
                "runs": s.RunSerializer(page.runs, many=True).data,
            }
        )


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
            **s.errors(400, 401, 403, 404, 409, 429),
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
        except TriggerLimitReached as exc:
            raise ApiError(
                f"{exc}; try again in {exc.retry_after}s",
                code=status.HTTP_429_TOO_MANY_REQUESTS,
                data={"field": "job_id", "job_id": job_id, **exc.as_dict()},
                retry_after=exc.retry_after,
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
        waits = [r.retry_after for r in results if r.retry_after]
        return envelope(
            {
                "action": body["action"],
                "succeeded": succeeded,
                "failed": len(results) - succeeded,
                "results": [r.as_dict() for r in results],
            },
            # Some triggers hit the manual-run limits: when to try those again.
            headers={"Retry-After": str(max(waits))} if waits else None,
        )


class MetricsView(ApiView):
    """The brief's metrics: monotonic counters plus rolling-window statistics."""

    @extend_schema(
        operation_id="metrics",
        summary="The brief's metrics: counters plus rolling-window statistics per job",
        responses={
            200: s.enveloped(
                "MetricsResponse", s.listing("Metrics", "metrics", s.MetricSerializer())
            ),
            **READ_ERRORS,
        },
    )
    def get(self, request):
        metrics = [m.as_brief_dict() for m in jobs.job_metrics()]
        return envelope({"total": len(metrics), "metrics": metrics})


class ServiceListView(ApiView):
    """The declared job callables, the jobs using them, and job-store presence."""

    @extend_schema(
        operation_id="services_list",
        summary="Declared job callables and the jobs that run them",
        responses={
            200: s.enveloped(
                "ServiceListResponse", s.listing("ServiceList", "services", s.ServiceSerializer())
            ),
            **READ_ERRORS,
        },
    )
    def get(self, request):
        services_ = [service.as_dict() for service in jobs.services_list()]
        return envelope({"total": len(services_), "services": services_})


class HeatmapView(ApiView):
    """Failed and abandoned runs per category per hour (or UTC day)."""

    @extend_schema(
        operation_id="heatmap",
        summary="Failures per category per hour (or day): the dashboard's heatmap",
        parameters=[s.HeatmapQuerySerializer],
        responses={200: s.enveloped("HeatmapResponse", s.HeatmapSerializer()), **READ_ERRORS},
    )
    def get(self, request):
        params = self.query(s.HeatmapQuerySerializer)
        heatmap = heatmaps.failure_heatmap(hours=params["hours"], bucket=params["bucket"])
        return envelope({"hours": params["hours"], **heatmap.as_dict()})


class SummaryView(ApiView):
    """The dashboard's cards, from the same selector as the pages."""

    @extend_schema(
        operation_id="summary",
        summary="The dashboard's cards",
        responses={200: s.enveloped("SummaryResponse", s.SummarySerializer()), **READ_ERRORS},
    )
    def get(self, request):
        return envelope(summary.dashboard_summary().as_dict())


class AlertsView(ApiView):
    """The firing alert rules, worst first, and the overall status."""

    @extend_schema(
        operation_id="alerts",
        summary="Firing alerts (as check_scheduler_alerts evaluates them) and overall status",
        responses={200: s.enveloped("AlertsResponse", s.AlertsSerializer()), **READ_ERRORS},
    )
    def get(self, request):
        return envelope(alert_rules.alerts_report().as_dict())


class NotFoundView(ApiView):
    """Any other path under the API prefix: a 404 in the envelope."""

    permission_classes = [AllowAny]
    schema = None  # not an endpoint; kept out of the OpenAPI schema

    def handle(self, request, *args, **kwargs):
        raise ApiError(f"no API endpoint at {request.path}", code=status.HTTP_404_NOT_FOUND)

    get = post = put = patch = delete = handle
