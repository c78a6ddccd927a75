"""The summary cards: totals from the monotonic counters plus the last 24 h of runs."""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from scheduler_monitor.jobs import job_list, success_rate
from scheduler_monitor.models import FAILED_STATUSES, TIMED_STATUSES, JobRun, RunStatus


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
