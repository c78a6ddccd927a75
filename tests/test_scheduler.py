"""SchedulerProcess pieces that need no subprocess: events, job store sync, log pruning."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from django.db import connection
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from scheduler_monitor.registry import JobSpec, registry
from scheduler_monitor.scheduler import SchedulerProcess
from tests.subprocesses import wait_for


def quick():
    """Return at once (a job for the tests)."""


def store_our_job(job_id: str) -> None:
    """Write a declared job's entry into DjangoJobStore as an earlier scheduler did."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from scheduler_monitor.scheduler import run_monitored_job

    earlier = BackgroundScheduler(jobstores={"default": DjangoJobStore()}, timezone="UTC")
    job = earlier.add_job(run_monitored_job, "interval", seconds=60, args=[job_id], id=job_id)
    earlier._real_add_job(job, "default", False)  # as start() would, without running it


def test_a_missed_run_event_is_recorded_with_its_scheduled_time(make_job):
    job = make_job("missed_one")
    when = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    SchedulerProcess()._on_not_run(
        JobExecutionEvent(EVENT_JOB_MISSED, "missed_one", "default", when)
    )
    run = JobRun.objects.get()
    assert (run.status, run.scheduled_at, run.started_at) == (RunStatus.MISSED, when, None)
    job.refresh_from_db()
    assert (job.missed_count, job.failure_count) == (1, 0)


@pytest.mark.django_db(transaction=True)
def test_a_started_scheduler_syncs_declarations_into_rows_and_the_job_store(
    settings, only_fast_jobs
):
    """Declared jobs land in JobDefinition and DjangoJobStore; paused ones stay paused."""
    settings.SCHEDULER_MONITOR = {"JOB_MODULES": ["tests.fast_jobs"], "SHUTDOWN_TIMEOUT": 5}
    JobDefinition.objects.create(job_id="fast_ok", name="old name", paused=True)
    JobDefinition.objects.create(job_id="gone_job", name="gone")
    store_our_job("gone_job")  # our store entry of a job no longer declared
    process = SchedulerProcess()
    process.prepare()
    runner = threading.Thread(target=process.run)
    runner.start()
    try:
        wait_for(lambda: DjangoJob.objects.filter(id="overlapping").exists(), timeout=10)
    finally:
        process.stop()
        runner.join(20)
    assert not runner.is_alive()
    assert JobDefinition.objects.get(job_id="fast_ok").name == "Fast OK"
    assert JobDefinition.objects.get(job_id="gone_job").removed is True
    stored = DjangoJob.objects.in_bulk()
    assert set(stored) == {"fast_ok", "fast_fail", "slow_job", "overlapping"}
    assert stored["fast_ok"].next_run_time is None  # paused jobs stay paused
    assert stored["fast_fail"].next_run_time is not None
    process.instance.refresh_from_db()
    assert process.instance.stopped_at is not None


def test_it_prunes_django_apschedulers_own_execution_log(db, settings):
    settings.SCHEDULER_MONITOR = {"EXECUTION_LOG_MAX_AGE": 60}
    store_job = DjangoJob.objects.create(id="x", job_state=b"")
    old = DjangoJobExecution.objects.create(
        job=store_job, status="Executed", run_time=timezone.now() - timedelta(hours=1)
    )
    fresh = DjangoJobExecution.objects.create(
        job=store_job, status="Executed", run_time=timezone.now()
    )
    SchedulerProcess()._prune_execution_log(now=10_000.0)
    remaining = set(DjangoJobExecution.objects.values_list("pk", flat=True))
    assert remaining == {fresh.pk}
    assert old.pk not in remaining


@pytest.mark.django_db(transaction=True)
def test_a_stop_asked_inside_the_scheduler_loop_lets_the_loop_finish_its_step(
    settings, monkeypatch
):
    """SIGTERM's handler runs in the main thread, maybe inside the job store's update."""
    settings.SCHEDULER_MONITOR = {"JOB_MODULES": [], "SHUTDOWN_TIMEOUT": 5}
    registry.clear()  # one quick job: nothing still running after the test
    registry.register(JobSpec("quick", "Quick", quick, interval_seconds=1))
    process = SchedulerProcess()
    save, update_job = DjangoJob.save, DjangoJobStore.update_job
    updating, interrupted = threading.local(), []

    def update_job_marked(store, job):
        updating.job = job.id
        try:
            return update_job(store, job)
        finally:
            updating.job = None

    def save_after_a_signal(job, *args, **kwargs):
        # As a signal handler would: stop() inside update_job's transaction, where the
        # scheduler loop holds the job store. Shutting down there closed the connection
        # that transaction was still using.
        if not interrupted and getattr(updating, "job", None) and connection.in_atomic_block:
            interrupted.append(job.id)
            process.stop()
        return save(job, *args, **kwargs)

    monkeypatch.setattr(DjangoJobStore, "update_job", update_job_marked)
    monkeypatch.setattr(DjangoJob, "save", save_after_a_signal)
    errors = []

    def run():
        try:
            process.run()
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            errors.append(exc)

    process.prepare()
    runner = threading.Thread(target=run)
    runner.start()
    runner.join(30)
    assert not runner.is_alive()
    assert interrupted, "the scheduler loop never updated a job"
    assert errors == []
    process.instance.refresh_from_db()
    assert process.instance.stopped_at is not None
