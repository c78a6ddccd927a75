"""Read-side queries: every aggregate shown by the API, pages, commands and Prometheus."""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor import conf
from scheduler_monitor.models import (
    FAILED_STATUSES,
    TIMED_STATUSES,
    JobDefinition,
    JobRun,
    RunStatus,
    SchedulerInstance,
    TriggerRequest,
    TriggerStatus,
)
from scheduler_monitor.stats import EMPTY_STATS, Stats
from scheduler_monitor.window import get_window


def job_list(*, include_removed: bool = False) -> QuerySet[JobDefinition]:
    """Jobs in display order, by default only those still declared."""
    jobs = JobDefinition.objects.all()
    if not include_removed:
        jobs = jobs.filter(removed=False)
    return jobs.order_by("category", "job_id")


def window_statistics(*, refresh: bool = True) -> dict[str, Stats]:
    """Window statistics of every job, topped up from the database first."""
    window = get_window()
    if refresh:
        window.refresh()
    return window.get_all_statistics()


def job_window_statistics(*, job_id: str, refresh: bool = True) -> Stats:
    window = get_window()
    if refresh:
        window.refresh()
    return window.get_statistics(job_id)


def success_rate(success: int, failure: int) -> float | None:
    """Successes over runs, 0..1, or None when there was no run."""
    total = success + failure
    return success / total if total else None


@dataclass(frozen=True)
class JobMetrics:
    """One job's counters, last run and window statistics (the brief's metrics item)."""

    job: JobDefinition
    stats: Stats

    @property
    def total_runs(self) -> int:
        return self.job.success_count + self.job.failure_count

    @property
    def success_rate(self) -> float | None:
        return success_rate(self.job.success_count, self.job.failure_count)

    def as_brief_dict(self) -> dict:
        """The brief's ``/scheduler/metrics`` item, times in UTC ISO 8601 with ``Z``."""
        job = self.job
        return {
            "job_id": job.job_id,
            "job_name": job.name,
            "owner": job.owner,
            "category": job.category,
            "success_count": job.success_count,
            "failure_count": job.failure_count,
            "total_runs": self.total_runs,
            **{k: v for k, v in self.stats.as_dict().items()},
            "last_status": job.last_status or None,
            "last_timestamp": iso_utc(job.last_run_at),
            "last_duration_ms": job.last_duration_ms,
        }


def job_metrics(*, jobs: QuerySet[JobDefinition] | None = None) -> list[JobMetrics]:
    """Counters and window statistics for each job (two queries at most, any job count)."""
    stats = window_statistics()
    jobs = job_list() if jobs is None else jobs
    return [JobMetrics(job=job, stats=stats.get(job.job_id, EMPTY_STATS)) for job in jobs]


def iso_utc(value: datetime | None) -> str | None:
    """Format an aware datetime as UTC ISO 8601 with a ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SchedulerStatus:
    running: bool
    instance: SchedulerInstance | None
    heartbeat_age_seconds: float | None
    registered_jobs: int
    paused_jobs: int


def scheduler_status(*, now: datetime | None = None) -> SchedulerStatus:
    """Whether a scheduler is alive: its heartbeat is fresh and it has not recorded a stop."""
    now = now or timezone.now()
    instance = SchedulerInstance.objects.order_by("-heartbeat_at").first()
    stale_after = timedelta(
        seconds=conf.get("HEARTBEAT_INTERVAL") * conf.get("HEARTBEAT_STALE_AFTER")
    )
    running = bool(
        instance and instance.stopped_at is None and now - instance.heartbeat_at <= stale_after
    )
    jobs = job_list()
    return SchedulerStatus(
        running=running,
        instance=instance,
        heartbeat_age_seconds=(now - instance.heartbeat_at).total_seconds() if instance else None,
        registered_jobs=jobs.count(),
        paused_jobs=jobs.filter(paused=True).count(),
    )


@dataclass(frozen=True)
class DashboardSummary:
    """The dashboard's cards: the same numbers the ``summary`` endpoint returns."""

    total_jobs: int
    total_runs: int
    success_count: int
    failure_count: int
    success_rate: float | None
    avg_duration_ms: float | None
    failing_jobs: int
    runs_last_24h: int
    failures_last_24h: int

    def as_dict(self) -> dict:
        return asdict(self)


def dashboard_summary(*, now: datetime | None = None) -> DashboardSummary:
    """Cards from the monotonic counters plus the last 24 h of runs (three queries)."""
    now = now or timezone.now()
    totals = job_list().aggregate(
        total_jobs=Count("pk"),
        success=Coalesce(Sum("success_count"), 0),
        failure=Coalesce(Sum("failure_count"), 0),
        duration_sum=Coalesce(Sum("duration_sum_ms"), 0.0),
        failing=Count("pk", filter=Q(last_status__in=FAILED_STATUSES)),
    )
    recent = JobRun.objects.filter(
        job__removed=False,
        started_at__gte=now - timedelta(hours=24),
        status__in=[*TIMED_STATUSES, RunStatus.ABANDONED],
    ).aggregate(
        runs=Count("pk"),
        failures=Count("pk", filter=Q(status__in=FAILED_STATUSES)),
    )
    runs = totals["success"] + totals["failure"]
    return DashboardSummary(
        total_jobs=totals["total_jobs"],
        total_runs=runs,
        success_count=totals["success"],
        failure_count=totals["failure"],
        success_rate=success_rate(totals["success"], totals["failure"]),
        avg_duration_ms=totals["duration_sum"] / runs if runs else None,
        failing_jobs=totals["failing"],
        runs_last_24h=recent["runs"],
        failures_last_24h=recent["failures"],
    )


@dataclass(frozen=True)
class HeatmapRow:
    category: str
    counts: list[int]
    total: int
    jobs: list[dict]  # [{"job_id", "job_name", "failures"}], most failures first


@dataclass(frozen=True)
class FailureHeatmap:
    """Failures per category per bucket (hour or day), oldest bucket first."""

    bucket: str  # "hour" or "day"
    buckets: list[datetime]
    rows: list[HeatmapRow]
    max_count: int
    alarm_threshold: int

    def as_dict(self) -> dict:
        return {
            "bucket": self.bucket,
            "buckets": [iso_utc(b) for b in self.buckets],
            "categories": [asdict(row) for row in self.rows],
            "max_count": self.max_count,
            "alarm_threshold": self.alarm_threshold,
        }


def failure_heatmap(
    *, hours: int = 24, bucket: str = "hour", now: datetime | None = None
) -> FailureHeatmap:
    """Failed and abandoned runs per category per hour (or per UTC day) over the last hours.

    Failures are few, so they are fetched once and bucketed in Python: the same on every
    database and no per-row date function on SQLite.
    """
    if bucket not in ("hour", "day"):
        raise ValueError("bucket must be 'hour' or 'day'")
    now = now or timezone.now()
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        current = current.replace(hour=0)
    count = hours if bucket == "hour" else max(1, -(-hours // 24))
    buckets = [current - step * i for i in range(count - 1, -1, -1)]
    start = buckets[0]
    categories = list(job_list().values_list("category", flat=True).distinct().order_by())
    grid = {c: [0] * count for c in categories}
    per_job: dict[str, dict[str, list]] = {c: {} for c in categories}
    failures = JobRun.objects.filter(
        job__removed=False, status__in=FAILED_STATUSES, started_at__gte=start
    ).values_list("job__category", "job__job_id", "job__name", "started_at")
    for category, job_id, job_name, started_at in failures.iterator(chunk_size=2000):
        index = int((started_at - start) / step)
        if not 0 <= index < count:
            continue
        grid.setdefault(category, [0] * count)[index] += 1
        job_entry = per_job.setdefault(category, {}).setdefault(job_id, [job_name, 0])
        job_entry[1] += 1
    rows = [
        HeatmapRow(
            category=category,
            counts=counts,
            total=sum(counts),
            jobs=[
                {"job_id": job_id, "job_name": name, "failures": n}
                for job_id, (name, n) in sorted(
                    per_job.get(category, {}).items(), key=lambda item: (-item[1][1], item[0])
                )
            ],
        )
        for category, counts in sorted(grid.items())
    ]
    return FailureHeatmap(
        bucket=bucket,
        buckets=buckets,
        rows=rows,
        max_count=max((max(r.counts) for r in rows if r.counts), default=0),
        alarm_threshold=conf.get("HEATMAP_ALARM_THRESHOLD"),
    )


# --- API reads

# Fields a job list may be ordered by (``-`` prefix for descending).
JOB_ORDERING_FIELDS = (
    "job_id",
    "name",
    "owner",
    "category",
    "last_status",
    "last_run_at",
    "last_duration_ms",
    "next_run_time",
    "success_count",
    "failure_count",
)
RUNS_PAGE_SIZE_MAX = 500


def with_job_store(jobs: QuerySet[JobDefinition]) -> QuerySet[JobDefinition]:
    """Annotate each job with its next run time and presence in django-apscheduler's store.

    Subqueries, not a second query per job: the list stays one query however long it is.
    """
    stored = DjangoJob.objects.filter(id=OuterRef("job_id"))
    return jobs.annotate(
        next_run_time=Subquery(stored.values("next_run_time")[:1]),
        in_job_store=Exists(stored),
    )


def job_api_list(
    *,
    category: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    q: str | None = None,
    ordering: str | None = None,
) -> QuerySet[JobDefinition]:
    """Declared jobs with their job-store fields, filtered and ordered (one query)."""
    jobs = with_job_store(job_list())
    if category is not None:
        jobs = jobs.filter(category=category)
    if owner is not None:
        jobs = jobs.filter(owner=owner)
    if status is not None:
        jobs = jobs.filter(last_status=status)
    if q:
        # icontains escapes % and _, so a search string is always plain text.
        jobs = jobs.filter(Q(job_id__icontains=q) | Q(name__icontains=q) | Q(owner__icontains=q))
    if ordering:
        field = ordering.lstrip("-")
        if field not in JOB_ORDERING_FIELDS:
            raise ValueError(f"cannot order jobs by {ordering!r}")
        # Explicit null placement: SQLite and PostgreSQL disagree on where NULLs sort.
        expression = (
            F(field).desc(nulls_last=True)
            if ordering.startswith("-")
            else F(field).asc(nulls_last=True)
        )
        jobs = jobs.order_by(expression, "job_id")
    return jobs


def job_api_get(*, job_id: str) -> JobDefinition | None:
    """One job by id, removed ones included (their history is kept), with job-store fields."""
    return with_job_store(JobDefinition.objects.filter(job_id=job_id)).first()


def job_runs(
    *,
    job: JobDefinition,
    status: str | None = None,
    trigger: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[JobRun]:
    """A job's runs, newest first, by start time (scheduled time for runs that never started)."""
    runs = JobRun.objects.filter(job=job).annotate(at=Coalesce("started_at", "scheduled_at"))
    if status is not None:
        runs = runs.filter(status=status)
    if trigger is not None:
        runs = runs.filter(trigger=trigger)
    if since is not None:
        runs = runs.filter(at__gte=since)
    if until is not None:
        runs = runs.filter(at__lt=until)
    return runs.select_related("job").order_by(F("at").desc(nulls_last=True), "-id")


@dataclass(frozen=True)
class RunPage:
    count: int
    page: int
    page_size: int
    pages: int
    runs: list[JobRun]


class PageOutOfRange(ValueError):
    """The requested page is past the last page."""


def job_runs_page(*, runs: QuerySet[JobRun], page: int, page_size: int) -> RunPage:
    """One page of runs (two queries: the count and the page)."""
    if not 1 <= page_size <= RUNS_PAGE_SIZE_MAX:
        raise ValueError(f"page_size must be between 1 and {RUNS_PAGE_SIZE_MAX}")
    count = runs.count()
    pages = max(1, -(-count // page_size))
    if page < 1 or page > pages:
        raise PageOutOfRange(f"page {page} does not exist; there are {pages} page(s)")
    offset = (page - 1) * page_size
    return RunPage(
        count=count,
        page=page,
        page_size=page_size,
        pages=pages,
        runs=list(runs[offset : offset + page_size]),
    )


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


@dataclass(frozen=True)
class ServiceInfo:
    """A declared job callable and the jobs that run it."""

    callable: str
    job_ids: list[str]
    owner: str
    category: str
    in_job_store: bool
    jobs: list[dict]

    def as_dict(self) -> dict:
        return asdict(self)


def _joined(values) -> str:
    """The one value all jobs share, or the distinct values joined with commas."""
    return ", ".join(sorted({v for v in values if v}))


def services_list() -> list[ServiceInfo]:
    """Declared callables with the jobs using them and whether the job store holds them."""
    rows = with_job_store(job_list()).values_list(
        "callable_path", "job_id", "owner", "category", "paused", "in_job_store"
    )
    grouped: dict[str, list[tuple]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    services = []
    for path, members in sorted(grouped.items()):
        services.append(
            ServiceInfo(
                callable=path,
                job_ids=[m[1] for m in members],
                owner=_joined(m[2] for m in members),
                category=_joined(m[3] for m in members),
                in_job_store=all(m[5] for m in members),
                jobs=[{"job_id": m[1], "paused": m[4], "in_job_store": m[5]} for m in members],
            )
        )
    return services


def paused_jobs_still_scheduled() -> list[str]:
    """Ids of jobs flagged paused whose stored job still has a next run time."""
    stored = DjangoJob.objects.filter(id=OuterRef("job_id"), next_run_time__isnull=False)
    return list(
        job_list().filter(paused=True).filter(Exists(stored)).values_list("job_id", flat=True)
    )
