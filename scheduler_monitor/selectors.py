"""Read-side queries: every aggregate shown by the API, pages, commands and Prometheus."""

import collections
import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor import conf
from scheduler_monitor.failure_counts import (
    failures_per_job_and_bucket,
    failures_per_job_and_day,
)
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
from scheduler_monitor.silences import maintenance_run_counts
from scheduler_monitor.stats import EMPTY_STATS, Stats, summarise
from scheduler_monitor.window import get_window

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    """Failed and abandoned runs per category per hour (or per UTC day) over the last hours."""
    if bucket not in ("hour", "day"):
        raise ValueError("bucket must be 'hour' or 'day'")
    now = now or timezone.now()
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        current = current.replace(hour=0)
    count = hours if bucket == "hour" else max(1, -(-hours // 24))
    buckets = [current - step * i for i in range(count - 1, -1, -1)]
    jobs = heatmap_jobs()
    if bucket == "day":
        per_bucket = failures_per_job_and_day(buckets)
    else:
        per_bucket = failures_per_job_and_bucket([*buckets, buckets[-1] + step])
    return heatmap_from_counts(bucket=bucket, buckets=buckets, jobs=jobs, counts=per_bucket)


def heatmap_jobs() -> dict[int, tuple[str, str, str]]:
    """The declared jobs a heatmap shows: pk -> (category, job_id, name)."""
    return {
        pk: (category, job_id, name)
        for pk, category, job_id, name in job_list()
        .order_by()
        .values_list("pk", "category", "job_id", "name")
    }


def heatmap_from_counts(
    *, bucket: str, buckets: list[datetime], jobs: dict[int, tuple], counts: dict[int, list[int]]
) -> FailureHeatmap:
    """Sum per-job counts into category rows; ``jobs`` maps pk to (category, job_id, name).

    Counts of jobs not in ``jobs`` (removed ones) are left out.
    """
    grid = {category: [0] * len(buckets) for category, _, _ in jobs.values()}
    per_job: dict[str, dict[str, list]] = {c: {} for c in grid}
    for job_pk, job_counts in counts.items():
        if job_pk not in jobs:
            continue
        category, job_id, name = jobs[job_pk]
        row = grid[category]
        for i, n in enumerate(job_counts):
            row[i] += n
        if total := sum(job_counts):
            per_job[category][job_id] = [name, total]
    return heatmap_from_grid(bucket=bucket, buckets=buckets, grid=grid, per_job=per_job)


def heatmap_from_grid(
    *, bucket: str, buckets: list[datetime], grid: dict, per_job: dict
) -> FailureHeatmap:
    """Rows sorted by category, each with its failing jobs, most failures first."""
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


# --- Prometheus reads


@dataclass(frozen=True)
class PrometheusJob:
    """What the Prometheus collector exports for one job (plain values, no model)."""

    job_id: str
    job_name: str
    owner: str
    category: str
    paused: bool
    success_count: int
    failure_count: int
    duration_sum_ms: float
    duration_buckets: dict
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_duration_ms: float | None
    next_run_at: datetime | None
    running: int
    stats: Stats
    expected_interval_seconds: float | None = None
    grace_seconds: float = 0.0
    late_seconds: float | None = None
    stuck_runs: int = 0

    @property
    def overdue(self) -> bool:
        return past_grace(self.late_seconds, self.grace_seconds)


@dataclass(frozen=True)
class PrometheusSnapshot:
    jobs: list[PrometheusJob]
    status: SchedulerStatus
    running: bool = False  # lease-aware: a scheduler runs jobs (not scheduler_down)


PROMETHEUS_JOB_FIELDS = (
    "pk",
    "job_id",
    "name",
    "owner",
    "category",
    "paused",
    "success_count",
    "failure_count",
    "duration_sum_ms",
    "duration_buckets",
    "last_run_at",
    "last_success_at",
    "last_duration_ms",
    "expected_interval_seconds",
    "grace_seconds",
)


def prometheus_snapshot(*, now: datetime | None = None) -> PrometheusSnapshot:
    """Counters, last/next runs, overdue, in-flight and stuck runs, window stats of every job.

    A fixed number of queries whatever the number of jobs (plus the window's top-up); plain
    ``values_list`` rows, since building 1,000 model instances per scrape is most of its cost.
    """
    from django_apscheduler.models import DjangoJob

    now = now or timezone.now()
    stats = window_statistics()
    rows = job_list().values_list(*PROMETHEUS_JOB_FIELDS)
    next_runs = dict(DjangoJob.objects.values_list("id", "next_run_time"))
    # Counted in Python: with GROUP BY job_id, SQLite reads the whole table in job order
    # (105 ms at 1,000,000 runs) instead of the few running rows by (status, started_at).
    running = collections.Counter(
        JobRun.objects.filter(status=RunStatus.RUNNING).order_by().values_list("job_id", flat=True)
    )
    stuck = stuck_runs_by_job(now=now)
    jobs = [
        PrometheusJob(
            job_id=job_id,
            job_name=name,
            owner=owner,
            category=category,
            paused=paused,
            success_count=success,
            failure_count=failure,
            duration_sum_ms=duration_sum,
            duration_buckets=buckets or {},
            last_run_at=last_run_at,
            last_success_at=last_success_at,
            last_duration_ms=last_duration,
            # A paused job keeps no next run time in the job store.
            next_run_at=next_runs.get(job_id),
            running=running.get(pk, 0),
            stats=stats.get(job_id, EMPTY_STATS),
            expected_interval_seconds=interval,
            grace_seconds=effective_grace_seconds(grace, interval),
            late_seconds=None if paused else late_seconds(next_runs.get(job_id), now),
            stuck_runs=len(stuck.get(job_id, ())),
        )
        for (
            pk,
            job_id,
            name,
            owner,
            category,
            paused,
            success,
            failure,
            duration_sum,
            buckets,
            last_run_at,
            last_success_at,
            last_duration,
            interval,
            grace,
        ) in rows
    ]
    overview = scheduler_overview(now=now)
    return PrometheusSnapshot(jobs=jobs, status=overview.status, running=overview.running)


# --- Dashboard reads ---------------------------------------------------------------------

GATEWAY_MEASUREMENT = "gateway_response_ms"


@dataclass(frozen=True)
class NotificationChain:
    """The notification job's health: counters, window timings, the gateway's response time."""

    job_id: str
    job: JobDefinition | None
    stats: Stats
    gateway: Stats

    @property
    def success_rate(self) -> float | None:
        return success_rate(self.job.success_count, self.job.failure_count) if self.job else None


def measurement_statistics(*, job: JobDefinition, name: str, limit: int | None = None) -> Stats:
    """Summarise one named measurement over the job's last ``limit`` runs that recorded it."""
    limit = limit or conf.get("HISTORY_SIZE")
    rows = (
        JobRun.objects.filter(job=job, status__in=TIMED_STATUSES)
        .exclude(measurements={})
        .order_by("-started_at", "-id")
        .values_list("measurements", flat=True)[:limit]
    )
    values = [
        float(m[name]) for m in rows if isinstance(m, dict) and isinstance(m.get(name), int | float)
    ]
    return summarise(values)


def notification_chain(*, job_id: str | None = None) -> NotificationChain:
    """The job named by ``NOTIFICATION_JOB_ID`` (or ``job_id``), with its gateway timings."""
    job_id = job_id or conf.get("NOTIFICATION_JOB_ID")
    job = JobDefinition.objects.filter(job_id=job_id).first()
    if job is None:
        return NotificationChain(job_id=job_id, job=None, stats=EMPTY_STATS, gateway=EMPTY_STATS)
    return NotificationChain(
        job_id=job_id,
        job=job,
        stats=job_window_statistics(job_id=job_id),
        gateway=measurement_statistics(job=job, name=GATEWAY_MEASUREMENT),
    )


def job_next_run_times() -> dict[str, datetime | None]:
    """Next run of every job in django-apscheduler's job store (None when paused)."""
    from django_apscheduler.models import DjangoJob

    return dict(DjangoJob.objects.values_list("id", "next_run_time"))


def job_get(*, job_id: str) -> JobDefinition | None:
    return JobDefinition.objects.filter(job_id=job_id).first()


@dataclass(frozen=True)
class RecentRun:
    run_id: int
    started_at: datetime
    duration_ms: float
    status: str


def job_recent_durations(*, job: JobDefinition, limit: int = 100) -> list[RecentRun]:
    """The job's last ``limit`` timed runs, oldest first (for the duration chart)."""
    rows = (
        JobRun.objects.filter(job=job, status__in=TIMED_STATUSES, duration_ms__isnull=False)
        .exclude(started_at=None)
        .order_by("-started_at", "-id")
        .values_list("pk", "started_at", "duration_ms", "status")[:limit]
    )
    return [RecentRun(*row) for row in reversed(list(rows))]


@dataclass(frozen=True)
class HourOutcome:
    hour: datetime
    successes: int
    failures: int


def job_hourly_outcomes(
    *, job: JobDefinition, days: int = 7, now: datetime | None = None
) -> list[HourOutcome]:
    """Successes and failures per UTC hour over the last ``days`` days, oldest hour first.

    Bucketed in Python: one job's week of rows is small, and SQLite has no fast TruncHour.
    """
    now = now or timezone.now()
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    count = days * 24
    start = current - timedelta(hours=count - 1)
    successes = [0] * count
    failures = [0] * count
    rows = JobRun.objects.filter(
        job=job,
        started_at__gte=start,
        status__in=[*TIMED_STATUSES, RunStatus.ABANDONED],
    ).values_list("started_at", "status")
    for started_at, status in rows.iterator(chunk_size=2000):
        index = int((started_at - start) / timedelta(hours=1))
        if not 0 <= index < count:
            continue
        if status in FAILED_STATUSES:
            failures[index] += 1
        else:
            successes[index] += 1
    return [
        HourOutcome(hour=start + timedelta(hours=i), successes=successes[i], failures=failures[i])
        for i in range(count)
    ]


# --- Operations reads ----------------------------------------------------------------------
# Daily trends: rollups for pruned days, raw runs for the rest; the two never overlap
# because the prune rolls a (job, day) up over all its runs before deleting any.


@dataclass(frozen=True)
class DailyTrend:
    """One job's runs of one UTC day, from its rollup or from its runs."""

    job_id: str
    day: date
    runs: int
    successes: int
    failures: int
    missed: int
    skipped: int
    duration_count: int
    duration_sum_ms: float
    duration_min_ms: float | None
    duration_max_ms: float | None
    duration_p95_ms: float | None
    source: str  # "rollup" or "runs"

    @property
    def avg_duration_ms(self) -> float | None:
        return self.duration_sum_ms / self.duration_count if self.duration_count else None

    @property
    def success_rate(self) -> float | None:
        return success_rate(self.successes, self.failures)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["avg_duration_ms"] = self.avg_duration_ms
        data["success_rate"] = self.success_rate
        return data


TREND_JOBS_PER_QUERY = 20


def _trend_days(days: int, now: datetime) -> list[date]:
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=i) for i in range(days - 1, -1, -1)]


def job_daily_trends(
    *, days: int = 30, job_ids: list[str] | None = None, now: datetime | None = None
) -> list[DailyTrend]:
    """Per job and UTC day over the last ``days`` days (today included), oldest first.

    Days without any run are left out. Memory holds one job's raw runs at a time.
    """
    from scheduler_monitor.models import JobRunDailyRollup
    from scheduler_monitor.services import run_moment, runs_between
    from scheduler_monitor.stats import percentile

    now = now or timezone.now()
    day_list = _trend_days(days, now)
    start = datetime(day_list[0].year, day_list[0].month, day_list[0].day, tzinfo=UTC)
    jobs = JobDefinition.objects.all()
    if job_ids is not None:
        jobs = jobs.filter(job_id__in=job_ids)
    names = dict(jobs.values_list("pk", "job_id"))
    trends: dict[tuple[str, date], DailyTrend] = {}
    rollups = JobRunDailyRollup.objects.filter(day__gte=day_list[0], job_id__in=list(names))
    for r in rollups:
        key = (names[r.job_id], r.day)
        trends[key] = DailyTrend(
            job_id=key[0],
            day=r.day,
            runs=r.runs,
            successes=r.successes,
            failures=r.failures,
            missed=r.missed,
            skipped=r.skipped,
            duration_count=r.duration_count,
            duration_sum_ms=r.duration_sum_ms,
            duration_min_ms=r.duration_min_ms,
            duration_max_ms=r.duration_max_ms,
            duration_p95_ms=r.duration_p95_ms,
            source="rollup",
        )

    from scheduler_monitor.services import UNSTARTED_STATUSES

    end = now + timedelta(days=1)
    fields = ("job_id", "status", "duration_ms", "started_at", "scheduled_at", "finished_at")
    pks = list(names)
    # A few jobs per round, each fetched whole: memory stays bounded, no server cursor.
    # Runs that ran are found by (job, started_at); missed and skipped ones by status.
    for i in range(0, len(pks), TREND_JOBS_PER_QUERY):
        chunk = pks[i : i + TREND_JOBS_PER_QUERY]
        ran = JobRun.objects.filter(
            job_id__in=chunk, started_at__gte=start, started_at__lt=end
        ).exclude(status__in=[RunStatus.RUNNING, *UNSTARTED_STATUSES])
        unstarted = JobRun.objects.filter(
            runs_between(start, end), job_id__in=chunk, status__in=UNSTARTED_STATUSES
        )
        per_day: dict[tuple[int, date], tuple[dict, list]] = {}
        rows = itertools.chain(
            # Only started_at for runs that ran: a third of the datetimes to convert.
            ran.order_by().values_list("job_id", "status", "duration_ms", "started_at"),
            (
                (job_pk, status, duration_ms, run_moment(*moments))
                for job_pk, status, duration_ms, *moments in unstarted.order_by().values_list(
                    *fields
                )
            ),
        )
        for job_pk, status, duration_ms, moment in rows:
            key = (job_pk, moment.astimezone(UTC).date())
            counts, durations = per_day.setdefault(
                key, ({"runs": 0, "successes": 0, "failures": 0, "missed": 0, "skipped": 0}, [])
            )
            if status == RunStatus.MISSED:
                counts["missed"] += 1
            elif status == RunStatus.SKIPPED:
                counts["skipped"] += 1
            else:
                counts["runs"] += 1
                counts["failures" if status in FAILED_STATUSES else "successes"] += 1
                if status in TIMED_STATUSES and duration_ms is not None:
                    durations.append(duration_ms)
        for (job_pk, day), (counts, durations) in per_day.items():
            key = (names[job_pk], day)
            if key in trends:
                continue  # the rollup already holds this day (failures kept longer)
            durations.sort()
            trends[key] = DailyTrend(
                job_id=key[0],
                day=day,
                duration_count=len(durations),
                duration_sum_ms=math.fsum(durations),
                duration_min_ms=durations[0] if durations else None,
                duration_max_ms=durations[-1] if durations else None,
                duration_p95_ms=percentile(durations, 0.95),
                source="runs",
                **counts,
            )
    return sorted(trends.values(), key=lambda t: (t.day, t.job_id))


def daily_failure_heatmap(*, days: int = 30, now: datetime | None = None) -> FailureHeatmap:
    """Failures per category per UTC day over ``days`` days, pruned days included.

    A (job, day) that was rolled up counts its rollup's failures (the prune may have
    kept its failed runs too); every other one counts its failed and abandoned runs.
    """
    from scheduler_monitor.models import JobRunDailyRollup

    now = now or timezone.now()
    day_list = _trend_days(days, now)
    buckets = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in day_list]
    jobs = heatmap_jobs()
    rolled_up = {
        (job_pk, day): failures
        for job_pk, day, failures in JobRunDailyRollup.objects.filter(day__gte=day_list[0])
        .order_by()
        .values_list("job_id", "day", "failures")
    }
    raw = failures_per_job_and_day(buckets)
    no_runs = [0] * len(day_list)
    counts = {
        job_pk: [
            rolled_up.get((job_pk, day), raw_count)
            for day, raw_count in zip(day_list, raw.get(job_pk, no_runs), strict=True)
        ]
        for job_pk in raw.keys() | {job_pk for job_pk, _ in rolled_up}
    }
    return heatmap_from_counts(bucket="day", buckets=buckets, jobs=jobs, counts=counts)


# Overdue jobs, stuck runs, lateness.


def default_grace_seconds(expected_interval_seconds: float | None) -> float:
    """A fraction of the job's interval, but at least the configured minimum."""
    minimum = float(conf.get("OVERDUE_GRACE_MIN_SECONDS"))
    if not expected_interval_seconds:
        return minimum
    return max(minimum, expected_interval_seconds * conf.get("OVERDUE_GRACE_FRACTION"))


@dataclass(frozen=True)
class JobSchedule:
    """Where a job stands against its schedule: next due time, grace, overdue or not."""

    job: JobDefinition
    next_run_at: datetime | None  # from the job store; None when paused or not scheduled
    grace_seconds: float
    late_seconds: float | None  # how long past due (None when not yet due)

    @property
    def overdue(self) -> bool:
        return past_grace(self.late_seconds, self.grace_seconds)

    def as_dict(self) -> dict:
        return {
            "job_id": self.job.job_id,
            "job_name": self.job.name,
            "expected_interval_seconds": self.job.expected_interval_seconds,
            "next_run_at": iso_utc(self.next_run_at),
            "grace_seconds": self.grace_seconds,
            "late_seconds": self.late_seconds,
            "overdue": self.overdue,
            "paused": self.job.paused,
        }


def job_schedules(
    *, jobs: list[JobDefinition] | None = None, now: datetime | None = None
) -> list[JobSchedule]:
    """Each declared job's (or each of ``jobs``') next due time from the job store.

    A job is overdue when its next run time passed more than its grace ago: the
    scheduler should have started it by then and moved the time on.
    """
    now = now or timezone.now()
    jobs = list(job_list()) if jobs is None else jobs
    due = job_next_run_times()
    return [job_schedule_of(job=job, next_run_at=due.get(job.job_id), now=now) for job in jobs]


def job_schedule_of(
    *, job: JobDefinition, next_run_at: datetime | None, now: datetime
) -> JobSchedule:
    """One job against its next run time from the job store (no query)."""
    next_run_at = None if job.paused else next_run_at
    return JobSchedule(
        job=job,
        next_run_at=next_run_at,
        grace_seconds=effective_grace_seconds(job.grace_seconds, job.expected_interval_seconds),
        late_seconds=late_seconds(next_run_at, now),
    )


def effective_grace_seconds(
    declared: float | None, expected_interval_seconds: float | None
) -> float:
    """The job's own grace, else the default for its interval."""
    return declared or default_grace_seconds(expected_interval_seconds)


def late_seconds(next_run_at: datetime | None, now: datetime) -> float | None:
    """How long past its next run time a job is; None when not yet due or not scheduled."""
    late = (now - next_run_at).total_seconds() if next_run_at else None
    return late if late is not None and late > 0 else None


def past_grace(late: float | None, grace_seconds: float) -> bool:
    """The overdue rule: past due by more than the grace."""
    return late is not None and late > grace_seconds


def overdue_jobs(
    *, jobs: list[JobDefinition] | None = None, now: datetime | None = None
) -> list[JobSchedule]:
    """Jobs (of all, or of ``jobs``) whose next run is past due by more than their grace."""
    return [s for s in job_schedules(jobs=jobs, now=now) if s.overdue]


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
    from scheduler_monitor.models import SchedulerLease
    from scheduler_monitor.services import LEASE_NAME, live_instances

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
class StuckRun:
    """A run still ``running`` past its job's maximum runtime."""

    run: JobRun
    running_seconds: float
    max_runtime_seconds: float
    derived_from: str  # "declared", "p95" or "default"

    def as_dict(self) -> dict:
        return {
            "run_id": self.run.pk,
            "job_id": self.run.job.job_id,
            "job_name": self.run.job.name,
            "started_at": iso_utc(self.run.started_at),
            "hostname": self.run.hostname,
            "pid": self.run.pid,
            "running_seconds": self.running_seconds,
            "max_runtime_seconds": self.max_runtime_seconds,
            "derived_from": self.derived_from,
        }


def max_runtime_seconds(job: JobDefinition, stats: Stats | None) -> tuple[float, str]:
    """The job's declared max runtime, else a multiple of its window p95, else the default."""
    if job.max_runtime_seconds:
        return job.max_runtime_seconds, "declared"
    if stats is not None and stats.p95_duration_ms is not None:
        derived = stats.p95_duration_ms / 1000 * conf.get("STUCK_P95_FACTOR")
        return max(float(conf.get("STUCK_MIN_SECONDS")), derived), "p95"
    return float(conf.get("STUCK_DEFAULT_SECONDS")), "default"


def stuck_runs(*, now: datetime | None = None) -> list[StuckRun]:
    """Running runs older than their job's max runtime, longest running first."""
    now = now or timezone.now()
    running = list(
        JobRun.objects.filter(status=RunStatus.RUNNING, started_at__isnull=False)
        .select_related("job")
        .order_by("started_at")
    )
    if not running:
        return []
    stats = window_statistics()
    stuck = []
    for run in running:
        limit, source = max_runtime_seconds(run.job, stats.get(run.job.job_id))
        seconds = (now - run.started_at).total_seconds()
        if seconds > limit:
            stuck.append(StuckRun(run, seconds, limit, source))
    return stuck


def job_lateness_statistics(
    *, hours: float = 24, job_ids: list[str] | None = None, now: datetime | None = None
) -> dict[str, Stats]:
    """Start delay (started minus scheduled, in ms) per job over the last hours.

    Apart from duration: a run that started late but ran fast shows here only. Scheduled
    runs only (a manual run starts when asked).
    """
    from scheduler_monitor.models import RunTrigger
    from scheduler_monitor.stats import summarise

    now = now or timezone.now()
    rows = (
        JobRun.objects.filter(
            # Every status a started run can have: lets the (status, started_at) index answer.
            status__in=[*TIMED_STATUSES, RunStatus.ABANDONED, RunStatus.RUNNING],
            trigger=RunTrigger.SCHEDULED,
            started_at__gte=now - timedelta(hours=hours),
            scheduled_at__isnull=False,
            **({"job__job_id__in": job_ids} if job_ids is not None else {}),
        )
        .order_by("job_id")
        .values_list("job__job_id", "started_at", "scheduled_at")
    )
    delays: dict[str, list[float]] = {}
    for job_id, started_at, scheduled_at in rows.iterator(chunk_size=5000):
        delay = (started_at - scheduled_at).total_seconds() * 1000
        delays.setdefault(job_id, []).append(max(delay, 0.0))
    return {job_id: summarise(values) for job_id, values in delays.items()}


# Alert rules (SCHEDULER_MONITOR["ALERT_RULES"], see conf.py).

SEVERITY_EXIT_CODES = {"ok": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Alert:
    """One firing rule, for one job (or for the scheduler as a whole)."""

    rule: str
    kind: str
    severity: str
    message: str
    job_id: str | None = None
    job_name: str | None = None
    value: float | None = None
    threshold: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def alerts_status(alerts: list[Alert]) -> str:
    """``"critical"``, ``"warning"`` or ``"ok"``: the worst severity firing."""
    severities = {a.severity for a in alerts}
    for severity in ("critical", "warning"):
        if severity in severities:
            return severity
    return "ok"


def firing_alerts(
    *,
    now: datetime | None = None,
    rules: list[dict] | None = None,
    jobs: list[JobDefinition] | None = None,
) -> list[Alert]:
    """Evaluate every alert rule; return the firing ones, critical first, then by rule.

    ``jobs``: the jobs of ``job_list()`` when the caller has them already.
    """
    now = now or timezone.now()
    rules = conf.alert_rules(rules)
    jobs = list(job_list()) if jobs is None else jobs
    alerts: list[Alert] = []
    for rule in rules:
        scoped = _rule_jobs(rule, jobs)
        alerts.extend(ALERT_EVALUATORS[rule["kind"]](rule, scoped, now))
    order = {"critical": 0, "warning": 1}
    return sorted(alerts, key=lambda a: (order[a.severity], a.rule, a.job_id or ""))


def _rule_jobs(rule: dict, jobs: list[JobDefinition]) -> list[JobDefinition]:
    if "jobs" in rule:
        jobs = [j for j in jobs if j.job_id in rule["jobs"]]
    if "categories" in rule:
        jobs = [j for j in jobs if j.category in rule["categories"]]
    return jobs


def _alert(rule: dict, message: str, job: JobDefinition | None = None, **numbers) -> Alert:
    return Alert(
        rule=rule["name"],
        kind=rule["kind"],
        severity=rule["severity"],
        message=message,
        job_id=job.job_id if job else None,
        job_name=job.name if job else None,
        **numbers,
    )


def _failure_ratio_alerts(rule, jobs, now) -> list[Alert]:
    by_pk = {j.pk: j for j in jobs}
    # Every job's runs of the window, kept or not below: an IN list of a thousand ids
    # cost more to send (psycopg splits the query text: ~25 ms) than the extra rows.
    counts = (
        JobRun.objects.filter(
            started_at__gte=now - timedelta(minutes=rule["window_minutes"]),
            status__in=[*TIMED_STATUSES, RunStatus.ABANDONED],
        )
        .order_by()
        .values("job_id")
        .annotate(runs=Count("pk"), failures=Count("pk", filter=Q(status__in=FAILED_STATUSES)))
    )
    alerts = []
    since = now - timedelta(minutes=rule["window_minutes"])
    planned = maintenance_run_counts(since=since)  # runs inside maintenance windows
    for row in counts:
        if row["job_id"] not in by_pk:
            continue
        runs, failures = row["runs"], row["failures"]
        if row["job_id"] in planned:
            runs, failures = runs - planned[row["job_id"]][0], failures - planned[row["job_id"]][1]
        if not runs:
            continue
        row = {**row, "runs": runs, "failures": failures}
        ratio = failures / runs
        if runs >= rule["min_runs"] and ratio > rule["threshold"]:
            alerts.append(
                _alert(
                    rule,
                    f"{row['failures']} of {row['runs']} runs failed in the last "
                    f"{rule['window_minutes']:g} min ({ratio:.0%} > {rule['threshold']:.0%})",
                    by_pk[row["job_id"]],
                    value=ratio,
                    threshold=rule["threshold"],
                )
            )
    return alerts


def _consecutive_failure_alerts(rule, jobs, now) -> list[Alert]:
    count = rule["count"]
    # Only a job whose latest run failed can have a failing streak.
    failing = {j.pk: j for j in jobs if j.last_status in FAILED_STATUSES}
    if not failing:
        return []
    streaks = failing_streaks(job_pks=list(failing))
    return [
        _alert(rule, f"the last {count} runs failed", job, value=count, threshold=count)
        for pk, job in failing.items()
        if streaks.get(pk, 0) >= count
    ]


def failing_streaks(*, job_pks: list[int]) -> dict[int, int]:
    """Failed and abandoned runs of each job since its latest success (one query).

    That is how many of its latest runs failed in a row (running, missed and skipped runs
    neither make nor break a streak). The runs are read through each job's (job,
    started_at) range; the statuses are written as "none of the others" so no planner
    prefers a status index (SQLite did, with statistics taken before the
    (status, started_at, job, id) index existed: 50 ms per job).
    """
    not_failed = set(RunStatus.values) - set(FAILED_STATUSES)
    latest_success = (
        JobRun.objects.filter(job=OuterRef(OuterRef("pk")))
        .exclude(status__in=set(RunStatus.values) - {RunStatus.SUCCESS})
        .order_by("-started_at")
        .values("started_at")[:1]
    )
    failed_since = (
        JobRun.objects.filter(job=OuterRef("pk"))
        .alias(since=Coalesce(Subquery(latest_success), Value(EPOCH)))
        .filter(started_at__gt=F("since"))
        .exclude(status__in=not_failed)
        .order_by()
        .values("job")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return dict(
        JobDefinition.objects.filter(pk__in=job_pks)
        .annotate(streak=Coalesce(Subquery(failed_since), 0))
        .values_list("pk", "streak")
    )


def _p95_alerts(rule, jobs, now) -> list[Alert]:
    from scheduler_monitor.stats import percentile

    by_pk = {j.pk: j for j in jobs}
    window_start = now - timedelta(minutes=rule["window_minutes"])
    recent = {
        pk: durations
        for pk, durations in _durations_by_job(job_pks=None, since=window_start).items()
        if pk in by_pk
    }
    # Only a job with enough recent samples can fire: the baseline is read for those alone.
    eligible = [pk for pk, durations in recent.items() if len(durations) >= rule["min_samples"]]
    before: dict[int, list[float]] = {}
    if rule.get("factor") and eligible:
        since = window_start - timedelta(hours=rule["baseline_hours"])
        before = _durations_by_job(job_pks=eligible, since=since, until=window_start)
    alerts = []
    for job_pk, durations in recent.items():
        if len(durations) < rule["min_samples"]:
            continue
        job = by_pk[job_pk]
        p95 = percentile(durations, 0.95)
        limits = []
        if rule.get("threshold_ms") is not None:
            limits.append((rule["threshold_ms"], f"{rule['threshold_ms']:g} ms"))
        baseline = before.get(job_pk, [])
        if rule.get("factor") and len(baseline) >= rule["min_samples"]:
            long_term = percentile(baseline, 0.95)
            limits.append(
                (
                    rule["factor"] * long_term,
                    f"{rule['factor']:g} x its p95 of the {rule['baseline_hours']:g} h before "
                    f"({long_term:.1f} ms)",
                )
            )
        exceeded = [(limit, text) for limit, text in limits if p95 > limit]
        if exceeded:
            limit, text = min(exceeded)
            alerts.append(
                _alert(
                    rule,
                    f"p95 {p95:.1f} ms over the last {rule['window_minutes']:g} min "
                    f"is above {text}",
                    job,
                    value=p95,
                    threshold=limit,
                )
            )
    return alerts


def _durations_by_job(
    *, job_pks: list[int] | None, since: datetime, until: datetime | None = None
) -> dict[int, list[float]]:
    """Timed runs' durations per job pk (of all jobs when None) in [since, until), sorted.

    Durations only: converting a timestamp per run was most of the p95 rule's time.
    """
    runs = JobRun.objects.filter(started_at__gte=since, status__in=TIMED_STATUSES).exclude(
        duration_ms=None
    )
    if job_pks is not None:
        runs = runs.filter(job_id__in=job_pks)
    if until is not None:
        runs = runs.filter(started_at__lt=until)
    durations: dict[int, list[float]] = {}
    rows = runs.order_by("job_id", "duration_ms").values_list("job_id", "duration_ms")
    for job_pk, duration_ms in rows.iterator(chunk_size=5000):
        durations.setdefault(job_pk, []).append(duration_ms)
    return durations


def _overdue_alerts(rule, jobs, now) -> list[Alert]:
    return [
        _alert(
            rule,
            f"due {s.late_seconds:.0f} s ago (grace {s.grace_seconds:.0f} s)",
            s.job,
            value=s.late_seconds,
            threshold=s.grace_seconds,
        )
        for s in overdue_jobs(jobs=jobs, now=now)
    ]


def _stuck_alerts(rule, jobs, now) -> list[Alert]:
    wanted = {j.pk for j in jobs}
    return [
        _alert(
            rule,
            f"run {s.run.pk} running for {s.running_seconds:.0f} s "
            f"(max {s.max_runtime_seconds:.0f} s, {s.derived_from})",
            s.run.job,
            value=s.running_seconds,
            threshold=s.max_runtime_seconds,
        )
        for s in stuck_runs(now=now)
        if s.run.job_id in wanted
    ]


def _scheduler_down_alerts(rule, jobs, now) -> list[Alert]:
    read_status = functools.cache(lambda: scheduler_status(now=now))  # read once at most
    if scheduler_runs_jobs(scheduler_roles(now=now), lambda: read_status().running):
        return []
    status = read_status()
    if status.running:
        message = "no live scheduler holds the lease; a standby takes it over when it expires"
    elif status.instance is None:
        message = "no scheduler has ever started"
    elif status.instance.stopped_at is not None:
        message = f"scheduler {status.instance} stopped at {iso_utc(status.instance.stopped_at)}"
    else:
        message = (
            f"scheduler {status.instance} last heartbeat {status.heartbeat_age_seconds:.0f} s ago"
        )
    return [_alert(rule, message, value=status.heartbeat_age_seconds)]


ALERT_EVALUATORS = {
    "failure_ratio": _failure_ratio_alerts,
    "consecutive_failures": _consecutive_failure_alerts,
    "p95": _p95_alerts,
    "overdue": _overdue_alerts,
    "stuck": _stuck_alerts,
    "scheduler_down": _scheduler_down_alerts,
}


def paused_jobs_still_scheduled() -> list[str]:
    """Ids of jobs flagged paused whose stored job still has a next run time."""
    stored = DjangoJob.objects.filter(id=OuterRef("job_id"), next_run_time__isnull=False)
    return list(
        job_list().filter(paused=True).filter(Exists(stored)).values_list("job_id", flat=True)
    )


# --- Operations states for the API, Prometheus and dashboard ------------------------------


@dataclass(frozen=True)
class SchedulerOverview:
    """The latest instance's heartbeat, the lease roles, and whether a scheduler runs jobs."""

    status: SchedulerStatus
    roles: SchedulerRoles

    @property
    def running(self) -> bool:
        """``scheduler_runs_jobs`` on the figures already read."""
        return scheduler_runs_jobs(self.roles, lambda: self.status.running)


def scheduler_overview(*, now: datetime | None = None) -> SchedulerOverview:
    """Status and roles in one go (five queries)."""
    now = now or timezone.now()
    return SchedulerOverview(status=scheduler_status(now=now), roles=scheduler_roles(now=now))


def stuck_runs_by_job(*, now: datetime | None = None) -> dict[str, list[StuckRun]]:
    """``stuck_runs`` grouped by job id (one query, plus the window's top-up if any runs)."""
    grouped: dict[str, list[StuckRun]] = {}
    for stuck in stuck_runs(now=now):
        grouped.setdefault(stuck.run.job.job_id, []).append(stuck)
    return grouped


def with_job_health(
    jobs: list[JobDefinition], *, now: datetime | None = None
) -> list[JobDefinition]:
    """Set ``schedule_health`` (JobSchedule) and ``stuck`` (StuckRuns) on ``job_api_list`` jobs.

    The jobs carry their ``next_run_time`` already: one query for the stuck runs only.
    """
    now = now or timezone.now()
    stuck = stuck_runs_by_job(now=now)
    for job in jobs:
        job.schedule_health = job_schedule_of(job=job, next_run_at=job.next_run_time, now=now)
        job.stuck = stuck.get(job.job_id, [])
    return jobs


@dataclass(frozen=True)
class AlertsReport:
    """The firing alerts and the worst severity among them."""

    alerts: list[Alert]
    evaluated_at: datetime

    @property
    def status(self) -> str:
        return alerts_status(self.alerts)

    def as_dict(self) -> dict:
        counts = {"critical": 0, "warning": 0}
        for alert in self.alerts:
            counts[alert.severity] += 1
        return {
            "status": self.status,
            "evaluated_at": iso_utc(self.evaluated_at),
            "total": len(self.alerts),
            **counts,
            "alerts": [a.as_dict() for a in self.alerts],
        }


def alerts_report(
    *, now: datetime | None = None, jobs: list[JobDefinition] | None = None
) -> AlertsReport:
    """Evaluate the configured alert rules now (over ``jobs`` when already loaded)."""
    now = now or timezone.now()
    return AlertsReport(alerts=firing_alerts(now=now, jobs=jobs), evaluated_at=now)
