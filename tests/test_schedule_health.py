"""Overdue jobs, scheduler down, stuck runs and lateness, with time frozen."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django_apscheduler.models import DjangoJob

from scheduler_monitor import jobs, schedule_health, scheduler_instances
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus, RunTrigger
from scheduler_monitor.registry import JobSpec, registry

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def noop():
    """Do nothing (a job for the tests)."""


def scheduled(job, next_run_at):
    """Put the job in django-apscheduler's store with this next run time."""
    DjangoJob.objects.update_or_create(
        id=job.job_id, defaults={"next_run_time": next_run_at, "job_state": b""}
    )


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_it_flags_a_job_overdue_only_past_its_grace(make_job, frozen):
    """Interval 1 h: grace 6 min; 7 min past due is overdue, 5 min past is not."""
    late = make_job(expected_interval_seconds=3600)
    within = make_job(expected_interval_seconds=3600)
    future = make_job(expected_interval_seconds=3600)
    scheduled(late, NOW - timedelta(minutes=7))
    scheduled(within, NOW - timedelta(minutes=5))
    scheduled(future, NOW + timedelta(minutes=5))

    by_id = {s.job.job_id: s for s in schedule_health.job_schedules()}

    assert [s.job.job_id for s in schedule_health.overdue_jobs()] == [late.job_id]
    assert by_id[late.job_id].grace_seconds == 360
    assert by_id[late.job_id].late_seconds == 420
    assert by_id[within.job_id].late_seconds == 300 and not by_id[within.job_id].overdue
    assert by_id[future.job_id].late_seconds is None
    assert by_id[late.job_id].as_dict()["next_run_at"] == "2026-06-15T11:53:00Z"


@pytest.mark.django_db
def test_it_gives_short_jobs_at_least_a_minute_of_grace(make_job, frozen):
    """Interval 30 s: a tenth would be 3 s; the grace is the 60 s minimum."""
    job = make_job(expected_interval_seconds=30)
    scheduled(job, NOW - timedelta(seconds=59))
    assert not schedule_health.overdue_jobs()
    frozen.shift(2)
    assert [s.job for s in schedule_health.overdue_jobs()] == [job]


@pytest.mark.django_db
def test_it_uses_the_grace_declared_on_the_job(make_job, frozen):
    """A declared grace replaces the default, longer or shorter."""
    patient = make_job(expected_interval_seconds=60, grace_seconds=900)
    strict = make_job(expected_interval_seconds=3600, grace_seconds=10)
    scheduled(patient, NOW - timedelta(minutes=10))
    scheduled(strict, NOW - timedelta(seconds=11))
    assert [s.job for s in schedule_health.overdue_jobs()] == [strict]


@pytest.mark.django_db
def test_it_never_flags_paused_removed_or_unscheduled_jobs(make_job, frozen):
    """Paused and removed jobs, and jobs not in the store, are not overdue."""
    paused = make_job(expected_interval_seconds=60, paused=True)
    removed = make_job(expected_interval_seconds=60, removed=True)
    make_job(expected_interval_seconds=60)
    scheduled(paused, NOW - timedelta(hours=1))
    scheduled(removed, NOW - timedelta(hours=1))
    assert schedule_health.overdue_jobs() == []


@pytest.mark.django_db
def test_it_syncs_interval_grace_and_max_runtime_from_declarations():
    """The declaration's interval (cron: longest gap), grace and max runtime reach the row."""
    specs = [
        JobSpec("every_5min", "Every 5", noop, interval_seconds=300, grace_seconds=45),
        JobSpec("weekdays", "Weekdays", noop, cron="0 9 * * 1-5", max_runtime_seconds=120),
    ]
    jobs.job_definitions_sync(specs=specs)
    rows = {j.job_id: j for j in JobDefinition.objects.all()}
    assert rows["every_5min"].expected_interval_seconds == 300
    assert rows["every_5min"].grace_seconds == 45
    assert rows["weekdays"].expected_interval_seconds == 3 * 86400  # Friday to Monday
    assert rows["weekdays"].max_runtime_seconds == 120
    assert rows["weekdays"].grace_seconds is None


def test_it_refuses_a_non_positive_grace():
    """grace_seconds and max_runtime_seconds must be positive seconds."""
    with pytest.raises(ImproperlyConfigured, match="grace_seconds must be positive"):
        registry.register(JobSpec("bad", "Bad", noop, interval_seconds=5, grace_seconds=0))
    with pytest.raises(ImproperlyConfigured, match="max_runtime_seconds must be positive"):
        registry.register(JobSpec("bad", "Bad", noop, interval_seconds=5, max_runtime_seconds=-1))


@pytest.mark.django_db
def test_it_says_the_scheduler_is_down_when_its_heartbeat_is_stale(frozen):
    """Fresh heartbeat: up; older than interval x stale-after (15 s): down; stopped: down."""
    assert scheduler_instances.scheduler_down()
    instance = scheduler_instances.scheduler_instance_start()
    assert not scheduler_instances.scheduler_down()
    frozen.shift(15)
    assert not scheduler_instances.scheduler_down()
    frozen.shift(1)
    assert scheduler_instances.scheduler_down()
    scheduler_instances.scheduler_instance_heartbeat(instance=instance)
    assert not scheduler_instances.scheduler_down()
    scheduler_instances.scheduler_instance_stop(instance=instance)
    assert scheduler_instances.scheduler_down()


def running_run(job, started_at):
    return JobRun.objects.create(job=job, status=RunStatus.RUNNING, started_at=started_at)


@pytest.mark.django_db
def test_it_flags_runs_past_a_multiple_of_their_p95(make_job, record_run, frozen):
    """p95 20 s, factor 5: a run at 101 s is stuck, one at 99 s is not."""
    job = make_job()
    for _ in range(20):
        record_run(job, duration_ms=20_000.0, started_at=NOW - timedelta(hours=2))
    stuck = running_run(job, NOW - timedelta(seconds=101))
    running_run(job, NOW - timedelta(seconds=99))
    (found,) = schedule_health.stuck_runs()
    assert found.run == stuck
    assert (found.max_runtime_seconds, found.derived_from) == (100.0, "p95")
    assert found.as_dict()["running_seconds"] == 101


@pytest.mark.django_db
def test_it_uses_the_declared_max_runtime_or_the_default(make_job, record_run, frozen):
    """A declared limit wins; a job with no finished run falls back to STUCK_DEFAULT_SECONDS."""
    declared = make_job(max_runtime_seconds=30)
    record_run(declared, duration_ms=60_000.0, started_at=NOW - timedelta(hours=2))
    fresh = make_job()
    running_run(declared, NOW - timedelta(seconds=31))
    running_run(fresh, NOW - timedelta(seconds=3599))
    old = running_run(fresh, NOW - timedelta(seconds=3601))
    found = {(s.run.pk, s.derived_from) for s in schedule_health.stuck_runs()}
    assert found == {
        (JobRun.objects.get(job=declared, status="running").pk, "declared"),
        (old.pk, "default"),
    }


@pytest.mark.django_db
def test_it_keeps_a_minimum_max_runtime_for_fast_jobs(make_job, record_run, frozen):
    """p95 of 10 ms would give 50 ms; the floor is STUCK_MIN_SECONDS (60 s)."""
    job = make_job()
    record_run(job, duration_ms=10.0, started_at=NOW - timedelta(hours=1))
    running_run(job, NOW - timedelta(seconds=59))
    assert schedule_health.stuck_runs() == []


@pytest.mark.django_db
def test_it_reports_lateness_apart_from_duration(make_job):
    """Start delays summarise per job; manual runs and old runs are left out."""
    job = make_job()
    for delay_ms in (0, 100, 200, 300, 2000):
        started = NOW - timedelta(minutes=10)
        JobRun.objects.create(
            job=job,
            status=RunStatus.SUCCESS,
            scheduled_at=started - timedelta(milliseconds=delay_ms),
            started_at=started,
            duration_ms=5.0,
        )
    JobRun.objects.create(
        job=job,
        status="success",
        trigger=RunTrigger.MANUAL,
        scheduled_at=NOW - timedelta(hours=1),
        started_at=NOW - timedelta(minutes=1),
    )
    JobRun.objects.create(
        job=job,
        status="success",
        scheduled_at=NOW - timedelta(days=3),
        started_at=NOW - timedelta(days=2),
    )
    stats = schedule_health.job_lateness_statistics(hours=24, now=NOW)[job.job_id]
    assert stats.sample_count == 5
    assert stats.max_duration_ms == pytest.approx(2000)
    assert stats.p50_duration_ms == pytest.approx(200)
    assert stats.avg_duration_ms == pytest.approx(520)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_it_records_the_scheduled_time_of_each_scheduled_run(settings):
    """A real scheduler stores each run's scheduled time; runs start just after it."""
    from scheduler_monitor.scheduler import SchedulerProcess

    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "JOB_MODULES": []}
    registry.clear()
    registry.register(JobSpec("every_second", "Every second", noop, interval_seconds=1))
    process = SchedulerProcess()
    process.prepare()
    thread = threading.Thread(target=process.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    try:
        while JobRun.objects.filter(status=RunStatus.SUCCESS).count() < 3:
            assert time.monotonic() < deadline, "the scheduler did not run the job 3 times"
            time.sleep(0.1)
    finally:
        process.stop()
        thread.join(timeout=30)
    runs = list(JobRun.objects.filter(status=RunStatus.SUCCESS).order_by("scheduled_at"))
    assert all(r.scheduled_at is not None for r in runs)
    assert all(timedelta(0) <= r.started_at - r.scheduled_at < timedelta(seconds=1) for r in runs)
    gaps = {
        round((b.scheduled_at - a.scheduled_at).total_seconds(), 3)
        for a, b in zip(runs, runs[1:], strict=False)
    }
    assert gaps == {1.0}
    lateness = schedule_health.job_lateness_statistics(hours=1)["every_second"]
    assert lateness.sample_count == len(runs)
