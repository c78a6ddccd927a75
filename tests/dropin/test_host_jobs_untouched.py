"""The declaration sync never deletes or rewrites a job in the store that we did not declare."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob

from scheduler_monitor import services
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
    host.add_job(func, id=job_id, **options)
    host.start(paused=True)  # writes the pending job to the store
    host.shutdown(wait=False)
    return DjangoJob.objects.get(id=job_id)


def only_fast_jobs_declared():
    for spec in registry.all():
        if not spec.callable_path.startswith("tests.fast_jobs."):
            registry.unregister(spec.job_id)


@pytest.mark.django_db(transaction=True)
def test_a_scheduler_start_leaves_a_host_job_and_its_store_row_alone(settings):
    """A host job an older version recorded (so it has a row) is neither removed nor deleted."""
    settings.SCHEDULER_MONITOR = {"JOB_MODULES": ["tests.fast_jobs"], "SHUTDOWN_TIMEOUT": 5}
    only_fast_jobs_declared()
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
    services.job_definitions_sync(specs=[])
    removed = dict(JobDefinition.objects.values_list("job_id", "removed"))
    assert removed == {"host_job": False, "old_declared": True}


@pytest.mark.django_db(transaction=True)
def test_a_declared_job_that_disappears_loses_only_our_store_entry(settings):
    settings.SCHEDULER_MONITOR = {"JOB_MODULES": ["tests.fast_jobs"], "SHUTDOWN_TIMEOUT": 5}
    only_fast_jobs_declared()
    add_host_job("host_cleanup")
    # Our own entry of a job that is no longer declared.
    from apscheduler.job import Job  # noqa: F401 - pickled state below is a real job's
    from apscheduler.schedulers.background import BackgroundScheduler

    from scheduler_monitor.scheduler import run_monitored_job

    ours = BackgroundScheduler(jobstores={"default": DjangoJobStore()}, timezone="UTC")
    ours.add_job(run_monitored_job, "interval", seconds=60, args=["retired"], id="retired")
    ours.start(paused=True)
    ours.shutdown(wait=False)
    JobDefinition.objects.create(job_id="retired", name="Retired")
    process = SchedulerProcess()
    process.prepare()
    process.stop()
    process.run()
    assert JobDefinition.objects.get(job_id="retired").removed is True
    assert not DjangoJob.objects.filter(id="retired").exists()
    assert DjangoJob.objects.filter(id="host_cleanup").exists()
    assert timezone.now() - timedelta(minutes=1) < process.instance.started_at
