"""Jobs: the declared job list, their counters and window statistics, the job store's
next run times, the services (callables) list, and syncing declarations into rows.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor.models import JobDefinition, JobSource
from scheduler_monitor.registry import JobSpec
from scheduler_monitor.schedules import declared_values, effective_values, overrides_of
from scheduler_monitor.stats import EMPTY_STATS, Stats
from scheduler_monitor.timestamps import iso_utc
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


def job_metrics(*, jobs: Iterable[JobDefinition] | None = None) -> list[JobMetrics]:
    """Counters and window statistics for each job (two queries at most, any job count)."""
    stats = window_statistics()
    jobs = job_list() if jobs is None else jobs
    return [JobMetrics(job=job, stats=stats.get(job.job_id, EMPTY_STATS)) for job in jobs]


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


def job_next_run_times() -> dict[str, datetime | None]:
    """Next run of every job in django-apscheduler's job store (None when paused)."""
    return dict(DjangoJob.objects.values_list("id", "next_run_time"))


def job_get(*, job_id: str) -> JobDefinition | None:
    return JobDefinition.objects.filter(job_id=job_id).first()


def job_definitions_sync(*, specs: Iterable[JobSpec]) -> list[JobDefinition]:
    """Upsert a row per declared job; mark declared rows no longer declared as removed.

    Never deletes, and never touches the rows of jobs found in the scheduler (the host's).
    """
    specs = list(specs)
    declared = {spec.job_id for spec in specs}
    with transaction.atomic():
        existing = {job.job_id: job for job in JobDefinition.objects.select_for_update()}
        synced = []
        for spec in specs:
            job = existing.get(spec.job_id)
            declaration = declared_values(spec)
            values = {
                "name": spec.name,
                "owner": spec.owner,
                "category": spec.category,
                "description": spec.description,
                "callable_path": spec.callable_path,
                "removed": False,
                "source": JobSource.DECLARED,
                "declared": declaration,
                "isolation": spec.isolation,
                "params_schema": spec.params_schema,
                # The schedule, limits and retries that apply: runtime overrides win.
                **effective_values(declaration, overrides_of(job) if job is not None else {}),
            }
            if job is None:
                job = JobDefinition.objects.create(job_id=spec.job_id, **values)
            elif any(getattr(job, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(job, key, value)
                job.save(update_fields=[*values, "updated_at"])
            synced.append(job)
        JobDefinition.objects.exclude(job_id__in=declared).filter(
            removed=False, source=JobSource.DECLARED
        ).update(removed=True, updated_at=timezone.now())
    return synced
