"""The job endpoints: list, one job, its runs, the brief's metrics, the services list."""

from drf_spectacular.utils import extend_schema

from scheduler_monitor import (
    jobs,
    runs,
    schedule_health,
)
from scheduler_monitor.api import serializers as s
from scheduler_monitor.api.envelope import ApiError, envelope
from scheduler_monitor.api.views.base import JOB_ID, READ_ERRORS, ApiView, get_job
from scheduler_monitor.stats import EMPTY_STATS

RECENT_RUNS = 20  # runs shown with one job


START_DELAY_HOURS = 24  # start delay statistics of one job cover its runs of the last day


class JobListView(ApiView):
    """Every declared job with its schedule, job-store next run time and last run."""

    @extend_schema(
        operation_id="jobs_list",
        summary="List jobs",
        parameters=s.query_parameters(s.JobListQuerySerializer),
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
