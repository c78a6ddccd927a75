"""runapscheduler as a real process: runs jobs, beats, abandons orphans, stops cleanly."""

import signal
from datetime import timedelta

import pytest
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from scheduler_monitor.models import (
    JobDefinition,
    JobRun,
    RunStatus,
    RunTrigger,
    SchedulerInstance,
    TriggerRequest,
    TriggerStatus,
)
from tests.subprocesses import start_manage, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scheduler(tmp_path):
    """Start runapscheduler; stop it with SIGTERM at the end if a test did not."""
    processes = []

    def start():
        process = start_manage("runapscheduler", log_path=tmp_path / "scheduler.log")
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def log_of(tmp_path):
    return (tmp_path / "scheduler.log").read_text(errors="replace")


def test_it_records_runs_writes_heartbeats_and_stops_cleanly(scheduler, tmp_path):
    """Within seconds two jobs have recorded runs; SIGTERM ends it with exit 0 and a stop."""
    process = scheduler()
    wait_for(
        lambda: (
            JobRun.objects.filter(
                job__job_id__in=["fast_ok", "fast_fail"], finished_at__isnull=False
            )
            .values("job")
            .distinct()
            .count()
            == 2
        ),
        timeout=30,
    )
    instance = wait_for(lambda: SchedulerInstance.objects.first(), timeout=5)
    first_beat = instance.heartbeat_at
    wait_for(
        lambda: SchedulerInstance.objects.get(pk=instance.pk).heartbeat_at > first_beat,
        timeout=10,
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log_of(tmp_path)
    assert "Scheduler stopped." in log_of(tmp_path)
    instance.refresh_from_db()
    assert instance.stopped_at is not None
    ok = JobDefinition.objects.get(job_id="fast_ok")
    fail = JobDefinition.objects.get(job_id="fast_fail")
    assert ok.success_count >= 1 and ok.failure_count == 0
    assert fail.failure_count >= 1 and fail.success_count == 0
    assert ok.success_count == JobRun.objects.filter(job=ok, status=RunStatus.SUCCESS).count()
    failed_run = JobRun.objects.filter(job=fail, status=RunStatus.FAILURE).first()
    assert failed_run.error == "RuntimeError: fast_fail always fails"
    assert "Traceback" in failed_run.traceback
    # Nothing is left running after a clean stop.
    assert not JobRun.objects.filter(status=RunStatus.RUNNING).exists()
    # Recorded once: django-apscheduler's own execution log stays empty by default.
    assert not DjangoJobExecution.objects.exists()
    # The schedule is persisted in django-apscheduler's job store.
    assert {"fast_ok", "fast_fail", "slow_job"} <= set(
        DjangoJob.objects.values_list("id", flat=True)
    )


def test_it_records_runs_apscheduler_skipped_at_max_instances(scheduler, tmp_path):
    """A job slower than its interval gets 'skipped' runs counted apart from failures."""
    process = scheduler()
    wait_for(
        lambda: JobRun.objects.filter(job__job_id="overlapping", status=RunStatus.SKIPPED).exists(),
        timeout=30,
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log_of(tmp_path)
    job = JobDefinition.objects.get(job_id="overlapping")
    assert job.skipped_count == JobRun.objects.filter(job=job, status=RunStatus.SKIPPED).count()
    assert job.failure_count == 0


def test_it_abandons_runs_a_dead_instance_left_running_on_start(scheduler, tmp_path):
    job = JobDefinition.objects.create(job_id="slow_job", name="Slow job")
    SchedulerInstance.objects.create(
        hostname="crashed-host",
        pid=4242,
        started_at=timezone.now() - timedelta(hours=2),
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    orphan = JobRun.objects.create(
        job=job,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        hostname="crashed-host",
        pid=4242,
    )
    process = scheduler()
    wait_for(lambda: JobRun.objects.get(pk=orphan.pk).status == RunStatus.ABANDONED, timeout=60)
    job.refresh_from_db()
    assert job.failure_count >= 1
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log_of(tmp_path)


def test_it_runs_a_triggered_job_as_a_manual_run(scheduler, tmp_path):
    process = scheduler()
    job = wait_for(lambda: JobDefinition.objects.filter(job_id="slow_job").first(), timeout=60)
    request = TriggerRequest.objects.create(job=job, requested_by="test")
    done = wait_for(
        lambda: TriggerRequest.objects.filter(pk=request.pk, status=TriggerStatus.DONE).first(),
        timeout=60,
    )
    assert done.run is not None
    assert done.run.trigger == RunTrigger.MANUAL
    assert done.run.status == RunStatus.SUCCESS
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log_of(tmp_path)
