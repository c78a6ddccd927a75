"""Runs: abandoning runs left running, and the run history reads."""

from datetime import UTC, timedelta

from django.utils import timezone

from scheduler_monitor import runs
from scheduler_monitor.models import JobRun, RunStatus, SchedulerInstance


def make_instance(hostname, pid, *, heartbeat_age=0, stopped=False):
    now = timezone.now()
    return SchedulerInstance.objects.create(
        hostname=hostname,
        pid=pid,
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
        stopped_at=now if stopped else None,
    )


def test_runs_left_running_by_a_dead_instance_become_abandoned(make_job):
    """On start, a run whose scheduler died is abandoned and counted as a failure."""
    job = make_job("orphaned", success_count=3)
    make_instance("old-host", 111, heartbeat_age=3600)
    live = make_instance("other-host", 222)
    started = timezone.now() - timedelta(minutes=5)
    dead_run = JobRun.objects.create(
        job=job, status=RunStatus.RUNNING, started_at=started, hostname="old-host", pid=111
    )
    live_run = JobRun.objects.create(
        job=job, status=RunStatus.RUNNING, started_at=started, hostname="other-host", pid=222
    )
    me = make_instance("me", 333)
    assert runs.job_runs_abandon_orphans(current=me) == 1
    dead_run.refresh_from_db()
    live_run.refresh_from_db()
    assert dead_run.status == RunStatus.ABANDONED
    assert dead_run.finished_at is not None
    assert "stopped or died" in dead_run.error
    assert live_run.status == RunStatus.RUNNING
    job.refresh_from_db()
    assert (job.success_count, job.failure_count) == (3, 1)
    assert job.last_status == RunStatus.ABANDONED
    assert live.pk  # the live instance's run is untouched


def test_abandoning_an_old_run_does_not_override_a_newer_last_status(make_job):
    job = make_job("newer", last_status=RunStatus.SUCCESS, last_run_at=timezone.now())
    run = JobRun.objects.create(
        job=job,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        hostname="gone",
        pid=1,
    )
    runs.job_runs_abandon(runs=JobRun.objects.filter(pk=run.pk), reason="gone")
    job.refresh_from_db()
    assert job.last_status == RunStatus.SUCCESS
    assert job.failure_count == 1


def test_it_buckets_a_week_of_outcomes_per_hour(make_job, record_run):
    """168 hours, oldest first; successes and failures counted in their UTC hour."""
    job = make_job()
    now = timezone.now()
    record_run(job, started_at=now - timedelta(minutes=1))
    record_run(job, status=RunStatus.FAILURE, started_at=now - timedelta(hours=5))
    record_run(job, started_at=now - timedelta(days=8))  # outside
    hours = runs.job_hourly_outcomes(job=job, days=7, now=now)
    assert len(hours) == 168
    assert hours[-1].hour == now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    assert sum(h.successes for h in hours) == 1
    assert sum(h.failures for h in hours) == 1
    failed = next(h for h in hours if h.failures)
    assert failed.hour <= now - timedelta(hours=5) < failed.hour + timedelta(hours=1)


def test_it_lists_runs_newest_first_with_missed_runs_by_due_time(make_job, record_run):
    """A missed run (never started) sorts by when it was due, not at either end."""
    job = make_job()
    now = timezone.now()
    old = record_run(job, started_at=now - timedelta(hours=2))
    new = record_run(job, started_at=now - timedelta(minutes=1))
    missed = JobRun.objects.create(
        job=job, status=RunStatus.MISSED, scheduled_at=now - timedelta(hours=1)
    )
    assert list(runs.job_runs(job=job).values_list("pk", flat=True)) == [new, missed.pk, old]
    assert list(runs.job_runs(job=job, status="missed")) == [missed]


def test_it_returns_recent_durations_oldest_first(make_job, record_run):
    """The chart's runs: the newest ``limit`` timed runs, in time order."""
    job = make_job()
    now = timezone.now()
    for minutes, ms in [(3, 30.0), (2, 20.0), (1, 10.0)]:
        record_run(job, duration_ms=ms, started_at=now - timedelta(minutes=minutes))
    recent = runs.job_recent_durations(job=job, limit=2)
    assert [r.duration_ms for r in recent] == [20.0, 10.0]
