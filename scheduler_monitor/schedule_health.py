"""Schedule health: expected interval and grace, overdue jobs, start lateness, stuck runs."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.jobs import job_list, job_next_run_times, window_statistics
from scheduler_monitor.models import TIMED_STATUSES, JobDefinition, JobRun, RunStatus, RunTrigger
from scheduler_monitor.stats import Stats, summarise
from scheduler_monitor.timestamps import iso_utc


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
    *,
    jobs: list[JobDefinition] | None = None,
    now: datetime | None = None,
    next_runs: dict[str, datetime | None] | None = None,
) -> list[JobSchedule]:
    """Each declared job's (or each of ``jobs``') next due time from the job store.

    A job is overdue when its next run time passed more than its grace ago: the
    scheduler should have started it by then and moved the time on.
    """
    now = now or timezone.now()
    jobs = list(job_list()) if jobs is None else jobs
    due = job_next_run_times() if next_runs is None else next_runs
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
    *,
    jobs: list[JobDefinition] | None = None,
    now: datetime | None = None,
    next_runs: dict[str, datetime | None] | None = None,
) -> list[JobSchedule]:
    """Jobs (of all, or of ``jobs``) whose next run is past due by more than their grace."""
    now = now or timezone.now()
    jobs = list(job_list()) if jobs is None else jobs
    due = job_next_run_times() if next_runs is None else next_runs
    # Only a job whose next run time has passed can be overdue: the others (nearly all)
    # need no schedule built, which was most of this rule at 5,000 jobs.
    passed = [j for j in jobs if not j.paused and (d := due.get(j.job_id)) and d < now]
    return [s for s in job_schedules(jobs=passed, now=now, next_runs=due) if s.overdue]


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
