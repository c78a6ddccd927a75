"""The declaration sync never deletes or rewrites a job in the store that we did not declare."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob

from scheduler_monitor import job_control, jobs, lease
from scheduler_monitor.models import JobDefinition
from scheduler_monitor.registry import registry
from scheduler_monitor.scheduler import SchedulerProcess
from tests.dropin import host_jobs
from tests.subprocesses import wait_for


def add_host_job(job_id="host_cleanup", *, func=host_jobs.cleanup_sessions, **kwargs):
    """Add a job to the DjangoJobStore as a host's own scheduler would."""
    from apscheduler.schedulers.background import BackgroundScheduler

    host = BackgroundScheduler(jobstores={"default": DjangoJobStore()}, timezone="UTC")
    options = {"trigger": "interval", "hours": 6, "kwargs": {"days": 30}}
    options.update(kwargs)
    job = host.add_job(func, id=job_id, **options)
    # What start() does with a pending job, without a scheduler thread that could run it.
    host._real_add_job(job, "default", False)
    return DjangoJob.objects.get(id=job_id)


@pytest.mark.django_db(transaction=True)
def test_a_scheduler_start_leaves_a_host_job_and_its_store_row_alone(settings, only_fast_jobs):
    """A host job an older version recorded (so it has a row) is neither removed nor deleted."""
    settings.SCHEDULER_MONITOR = {"JOB_MODULES": ["tests.fast_jobs"], "SHUTDOWN_TIMEOUT": 5}
    before = add_host_job()
    # What the old missed-run listener left behind: a row named after the id.
    JobDefinition.objects.create(job_id="host_cleanup", name="host_cleanup")
    process = SchedulerProcess()
    process.prepare()
    runner = threading.Thread(target=process.run)
    runner.start()
    try:
        wait_for(lambda: DjangoJob.objects.filter(id="fast_ok").exists(), timeout=15)
    finally:
        process.stop()
        runner.join(30)
    after = DjangoJob.objects.filter(id="host_cleanup").first()
    assert after is not None, "the host's job was deleted from django_apscheduler_djangojob"
    assert bytes(after.job_state) == bytes(before.job_state)
    assert after.next_run_time == before.next_run_time
    assert JobDefinition.objects.get(job_id="host_cleanup").removed is False


@pytest.mark.django_db
def test_the_declaration_sync_marks_only_declared_jobs_removed(make_job):
    from scheduler_monitor.models import JobSource

    make_job("host_job", source=JobSource.DISCOVERED)
    make_job("old_declared")
    jobs.job_definitions_sync(specs=[])
    removed = dict(JobDefinition.objects.values_list("job_id", "removed"))
    assert removed == {"host_job": False, "old_declared": True}


@pytest.mark.django_db(transaction=True)
def test_a_declared_job_that_disappears_loses_only_our_store_entry(settings, only_fast_jobs):
    settings.SCHEDULER_MONITOR = {"JOB_MODULES": ["tests.fast_jobs"], "SHUTDOWN_TIMEOUT": 5}
    add_host_job("host_cleanup")
    # Our own entry of a job that is no longer declared.
    from apscheduler.job import Job  # noqa: F401 - pickled state below is a real job's
    from apscheduler.schedulers.background import BackgroundScheduler

    from scheduler_monitor.scheduler import run_monitored_job

    ours = BackgroundScheduler(jobstores={"default": DjangoJobStore()}, timezone="UTC")
    job = ours.add_job(run_monitored_job, "interval", seconds=60, args=["retired"], id="retired")
    ours._real_add_job(job, "default", False)
    JobDefinition.objects.create(job_id="retired", name="Retired")
    process = SchedulerProcess()
    process.prepare()
    process.stop()
    process.run()
    assert JobDefinition.objects.get(job_id="retired").removed is True
    assert not DjangoJob.objects.filter(id="retired").exists()
    assert DjangoJob.objects.filter(id="host_cleanup").exists()
    assert timezone.now() - timedelta(minutes=1) < process.instance.started_at


def run_scheduler_until(condition, *, timeout=60):
    """Run a SchedulerProcess in a thread until ``condition()`` holds; stop it cleanly."""
    process = SchedulerProcess()
    process.prepare()
    runner = threading.Thread(target=process.run)
    runner.start()
    try:
        wait_for(condition, timeout=timeout)
    finally:
        process.stop()
        runner.join(30)
    assert not runner.is_alive()
    return process


def finished(job_id):
    from scheduler_monitor.models import JobRun, RunStatus

    return JobRun.objects.filter(job__job_id=job_id).exclude(status=RunStatus.RUNNING)


@pytest.mark.django_db(transaction=True)
def test_jobs_already_in_the_store_are_recorded_with_their_outcome_and_described(
    settings, only_fast_jobs
):
    """Host jobs run by our scheduler: status, duration, error, counters, a described row."""
    from scheduler_monitor.models import JobSource, RunStatus

    settings.SCHEDULER_MONITOR = {
        "JOB_MODULES": ["tests.fast_jobs"],
        "SHUTDOWN_TIMEOUT": 5,
        "JOBS": {"host_export": {"name": "Nightly export", "owner": "Data"}},
    }
    before = add_host_job("host_cleanup", seconds=1, hours=0)
    add_host_job("host_export", func=host_jobs.flaky_export, seconds=1, hours=0, kwargs={})
    add_host_job("host_slow", func=host_jobs.slow_host_job, seconds=1, hours=0, kwargs={})
    run_scheduler_until(
        lambda: (
            all(finished(j).count() >= 2 for j in ("host_cleanup", "host_export", "fast_ok"))
            and finished("host_slow").filter(status=RunStatus.SKIPPED).exists()
            and finished("host_slow").filter(status=RunStatus.SUCCESS).exists()
        )
    )
    cleanup = JobDefinition.objects.get(job_id="host_cleanup")
    assert (cleanup.source, cleanup.name, cleanup.category, cleanup.schedule) == (
        JobSource.DISCOVERED,
        "cleanup_sessions",
        "Uncategorised",
        "every 1s",
    )
    assert cleanup.description == "Delete old sessions (a host job)."
    assert cleanup.callable_path == "tests.dropin.host_jobs.cleanup_sessions"
    assert ("cleanup_sessions", 30) in host_jobs.calls  # its own kwargs, as stored
    runs = list(finished("host_cleanup"))
    assert {r.status for r in runs} == {RunStatus.SUCCESS}
    assert all(r.duration_ms >= 10 and r.scheduled_at is not None for r in runs)
    assert cleanup.success_count == len(runs) and cleanup.failure_count == 0
    export = JobDefinition.objects.get(job_id="host_export")
    assert (export.name, export.owner, export.category) == (
        "Nightly export",
        "Data",
        "Uncategorised",
    )
    failures = list(finished("host_export"))
    assert {r.status for r in failures} == {RunStatus.FAILURE}
    assert failures[0].error == "ValueError: export server said no"
    assert export.failure_count == len(failures) and export.success_count == 0
    # Runs skipped at max_instances are recorded for host jobs too, and counted.
    slow = JobDefinition.objects.get(job_id="host_slow")
    assert slow.skipped_count == finished("host_slow").filter(status=RunStatus.SKIPPED).count()
    # Declared jobs: one record per run (the executor is the only recording path).
    ok = JobDefinition.objects.get(job_id="fast_ok")
    scheduled = list(finished("fast_ok").values_list("scheduled_at", flat=True))
    assert len(scheduled) == len(set(scheduled)) == ok.success_count
    # The host's row: same job, only its next run time moved on.
    after = DjangoJob.objects.get(id="host_cleanup")
    store = DjangoJobStore()
    old, new = (store._reconstitute_job(bytes(r.job_state)) for r in (before, after))
    assert (new.func_ref, new.args, new.kwargs, str(new.trigger)) == (
        old.func_ref,
        old.args,
        old.kwargs,
        str(old.trigger),
    )
    assert after.next_run_time > before.next_run_time


@pytest.mark.django_db(transaction=True)
def test_a_host_job_that_missed_its_time_is_recorded_missed_under_its_description(settings):
    from scheduler_monitor.models import RunStatus

    settings.SCHEDULER_MONITOR = {"JOB_MODULES": [], "SHUTDOWN_TIMEOUT": 5}
    registry.clear()
    add_host_job(
        "host_late",
        hours=1,
        next_run_time=timezone.now() - timedelta(minutes=10),
        misfire_grace_time=1,
    )
    run_scheduler_until(lambda: finished("host_late").exists(), timeout=30)
    run = finished("host_late").get()
    assert run.status == RunStatus.MISSED
    job = JobDefinition.objects.get(job_id="host_late")
    assert (job.name, job.missed_count, job.success_count) == ("cleanup_sessions", 1, 0)


@pytest.mark.django_db(transaction=True)
def test_a_host_job_can_be_triggered_by_hand_and_runs_with_its_own_arguments(settings):
    from scheduler_monitor.models import RunStatus, RunTrigger, TriggerRequest, TriggerStatus

    settings.SCHEDULER_MONITOR = {
        "JOB_MODULES": [],
        "SHUTDOWN_TIMEOUT": 5,
        "TRIGGER_POLL_INTERVAL": 0.2,
        "HEARTBEAT_INTERVAL": 1,
    }
    registry.clear()
    add_host_job("host_cleanup", hours=6, kwargs={"days": 99})
    process = SchedulerProcess()
    process.prepare()  # discovers the host job: it can be triggered before its first run
    request = job_control.job_trigger(job_id="host_cleanup", requested_by="tester")
    runner = threading.Thread(target=process.run)
    runner.start()
    try:
        wait_for(
            lambda: TriggerRequest.objects.get(pk=request.pk).status == TriggerStatus.DONE,
            timeout=30,
        )
    finally:
        process.stop()
        runner.join(30)
    run = finished("host_cleanup").get()
    assert (run.status, run.trigger) == (RunStatus.SUCCESS, RunTrigger.MANUAL)
    assert TriggerRequest.objects.get(pk=request.pk).run_id == run.pk
    assert ("cleanup_sessions", 99) in host_jobs.calls


@pytest.mark.django_db
def test_a_host_job_past_its_due_time_is_overdue_like_a_declared_one():
    from scheduler_monitor import schedule_health
    from scheduler_monitor.discovery import Discovery

    add_host_job("host_hourly", hours=1, next_run_time=timezone.now() - timedelta(minutes=20))
    add_host_job("host_on_time", hours=1, next_run_time=timezone.now() + timedelta(minutes=5))
    store = DjangoJobStore()
    Discovery().note_jobs(
        store._reconstitute_job(bytes(j.job_state)) for j in DjangoJob.objects.all()
    )
    overdue = schedule_health.overdue_jobs()
    assert [s.job.job_id for s in overdue] == ["host_hourly"]
    assert overdue[0].late_seconds >= 20 * 60 - 5


@pytest.mark.django_db
def test_a_host_job_gone_from_the_store_is_marked_removed_and_comes_back_when_seen(settings):
    from scheduler_monitor.models import JobSource

    settings.SCHEDULER_MONITOR = {"JOB_MODULES": []}
    registry.clear()
    JobDefinition.objects.create(job_id="host_gone", name="Gone", source=JobSource.DISCOVERED)
    add_host_job("host_here")
    first = SchedulerProcess()
    first.prepare()
    assert first.active
    removed = dict(JobDefinition.objects.values_list("job_id", "removed"))
    assert removed == {"host_gone": True, "host_here": False}
    lease.release(first.instance)
    add_host_job("host_gone")
    second = SchedulerProcess()
    second.prepare()
    assert second.active
    assert JobDefinition.objects.get(job_id="host_gone").removed is False
