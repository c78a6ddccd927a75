"""Runs: a job's run history and pages, recent durations and hourly outcomes, run
moments (which time a run is filed under), and abandoning runs left running.
"""

import functools
import logging
import operator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.models import (
    FAILED_STATUSES,
    FINISHED_STATUSES,
    TIMED_STATUSES,
    UNSTARTED_STATUSES,
    JobDefinition,
    JobRun,
    RunStatus,
    SchedulerInstance,
)
from scheduler_monitor.scheduler_instances import live_instances
from scheduler_monitor.stats import Stats, summarise

logger = logging.getLogger(__name__)


RUNS_PAGE_SIZE_MAX = 500


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


def runs_between(start: datetime, end: datetime) -> Q:
    """Runs whose moment lies in [start, end).

    A run's moment is when it started; a run that never started (missed, skipped) has
    none, so its scheduled time (or, lacking that, its finish time) stands in.
    """
    return (
        Q(started_at__gte=start, started_at__lt=end)
        | Q(started_at__isnull=True, scheduled_at__gte=start, scheduled_at__lt=end)
        | Q(
            started_at__isnull=True,
            scheduled_at__isnull=True,
            finished_at__gte=start,
            finished_at__lt=end,
        )
    )


def run_moment(started_at, scheduled_at, finished_at) -> datetime | None:
    """The moment ``runs_between`` files a run under (same rule, in Python)."""
    return started_at or scheduled_at or finished_at


def finished_runs_between(start: datetime, end: datetime, statuses=None) -> Q:
    """Finished runs (of ``statuses``) whose moment lies in [start, end), index-friendly.

    Every write path stores ``started_at`` on runs that ran, so for them the moment is
    ``started_at`` and the (status, started_at) index answers; only missed and skipped
    runs need the fallbacks of ``runs_between``.
    """
    statuses = FINISHED_STATUSES if statuses is None else statuses
    executed = [s for s in statuses if s not in UNSTARTED_STATUSES and s != RunStatus.RUNNING]
    unstarted = [s for s in statuses if s in UNSTARTED_STATUSES]
    parts = []
    if executed:
        parts.append(Q(status__in=executed, started_at__gte=start, started_at__lt=end))
    if unstarted:
        parts.append(Q(status__in=unstarted) & runs_between(start, end))
    return functools.reduce(operator.or_, parts)
