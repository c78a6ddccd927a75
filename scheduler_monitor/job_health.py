"""Every job's health in one read: counters, last and next runs, overdue, in-flight and
stuck runs, window statistics, plus the scheduler's status (what the exposition shows).
"""

import collections
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor.job_rows import next_run_texts, next_run_times_of, of_these, text_columns
from scheduler_monitor.jobs import job_list, window_statistics
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from scheduler_monitor.schedule_health import (
    effective_grace_seconds,
    late_seconds,
    past_grace,
    stuck_runs_by_job,
)
from scheduler_monitor.scheduler_instances import SchedulerStatus, scheduler_overview
from scheduler_monitor.stats import EMPTY_STATS, Stats


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
    timed_out_count: int = 0
    retried_count: int = 0

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
    "timed_out_count",
    "retried_count",
)


def prometheus_snapshot(*, now: datetime | None = None) -> PrometheusSnapshot:
    """Counters, last/next runs, overdue, in-flight and stuck runs, window stats of every job.

    A fixed number of queries whatever the number of jobs (plus the window's top-up); plain
    ``values_list`` rows, since building 1,000 model instances per scrape is most of its cost.
    """

    now = now or timezone.now()
    stats = window_statistics()
    rows = job_list().values_list(*PROMETHEUS_JOB_FIELDS)
    next_runs = dict(DjangoJob.objects.values_list("id", "next_run_time"))
    jobs = prometheus_jobs(
        rows,
        next_runs=next_runs,
        running=running_by_job(),
        stuck=stuck_runs_by_job(now=now),
        stats=stats,
        now=now,
    )
    overview = scheduler_overview(now=now)
    return PrometheusSnapshot(jobs=jobs, status=overview.status, running=overview.running)


# The scrape's rows: PrometheusJob's fields, then the event counters of the same job.
PROMETHEUS_ROW_FIELDS = (*PROMETHEUS_JOB_FIELDS, "missed_count", "skipped_count")


@dataclass
class PrometheusReading:
    """One scrape's reads: every job's row (PROMETHEUS_ROW_FIELDS, dates and JSON as text)
    and next run time (as text), to tell what changed, plus what is derived afresh
    (running and stuck runs, window statistics, the scheduler's status)."""

    rows: list[tuple]
    next_runs: dict  # job id -> next run time as text
    running_runs: collections.Counter
    stuck: dict
    stats: dict
    status: SchedulerStatus
    running: bool  # a scheduler runs jobs, as PrometheusSnapshot.running

    @staticmethod
    def changed_jobs(pks: list[int]) -> list[tuple[tuple, tuple]]:
        """(row as in ``rows``, converted row) of these jobs, both from one read."""
        wanted = set(pks)
        count = len(PROMETHEUS_ROW_FIELDS)
        columns = text_columns(JobDefinition, PROMETHEUS_ROW_FIELDS)
        rows = of_these(job_list(), "pk", wanted).values_list(*columns, *PROMETHEUS_ROW_FIELDS)
        return [(row[:count], row[count:]) for row in rows if row[0] in wanted]

    # Job id -> (next run time as text, as a datetime) of these jobs (absent: none).
    changed_next_runs = staticmethod(next_run_times_of)


def prometheus_reading(*, now: datetime) -> PrometheusReading:
    """What prometheus_snapshot reads, the job rows and next run times as text."""
    stats = window_statistics()
    rows = list(job_list().values_list(*text_columns(JobDefinition, PROMETHEUS_ROW_FIELDS)))
    next_runs = next_run_texts()
    running_runs = running_by_job()
    stuck = stuck_runs_by_job(now=now)
    paused = PROMETHEUS_ROW_FIELDS.index("paused")
    counts = (len(rows), sum(1 for row in rows if row[paused]))
    overview = scheduler_overview(now=now, job_counts=counts)
    return PrometheusReading(
        rows=rows,
        next_runs=next_runs,
        running_runs=running_runs,
        stuck=stuck,
        stats=stats,
        status=overview.status,
        running=overview.running,
    )


def running_by_job() -> collections.Counter:
    """Runs in progress per job primary key."""
    # Counted in Python: with GROUP BY job_id, SQLite reads the whole table in job order
    # (105 ms at 1,000,000 runs) instead of the few running rows by (status, started_at).
    return collections.Counter(
        JobRun.objects.filter(status=RunStatus.RUNNING).order_by().values_list("job_id", flat=True)
    )


def job_overdue(job: PrometheusJob, now: datetime) -> bool:
    """Whether ``job`` is overdue at ``now`` (its lateness as prometheus_jobs sets it)."""
    return past_grace(None if job.paused else late_seconds(job.next_run_at, now), job.grace_seconds)


def prometheus_jobs(rows, *, next_runs, running, stuck, stats, now) -> list[PrometheusJob]:
    """PrometheusJobs of ``rows`` (PROMETHEUS_JOB_FIELDS, converted; more columns ignored).

    ``next_runs``: job id -> next run time; ``running``: job pk -> runs in progress;
    ``stuck``: job id -> stuck runs; ``stats``: job id -> window Stats.
    """
    return [
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
            timed_out_count=timed_out,
            retried_count=retried,
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
            timed_out,
            retried,
            *_,
        ) in rows
    ]
