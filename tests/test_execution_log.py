"""django-apscheduler's execution log: not filled by a real scheduler unless enabled."""

import threading

import pytest
from django_apscheduler.models import DjangoJobExecution

from scheduler_monitor.models import JobRun
from scheduler_monitor.registry import JobSpec, registry
from scheduler_monitor.scheduler import SchedulerProcess
from tests.subprocesses import wait_for


def quick():
    """Return at once (a job for the tests)."""


def failing():
    raise RuntimeError("failing always fails")


def run_scheduler_until_runs(count: int) -> None:
    """Run a real SchedulerProcess (APScheduler, the job store) until ``count`` runs finished."""
    registry.clear()
    registry.register(JobSpec("quick", "Quick", quick, interval_seconds=1))
    registry.register(JobSpec("failing", "Failing", failing, interval_seconds=1))
    process = SchedulerProcess()
    process.prepare()
    runner = threading.Thread(target=process.run)
    runner.start()
    try:
        wait_for(
            lambda: JobRun.objects.filter(finished_at__isnull=False).count() >= count, timeout=60
        )
    finally:
        process.stop()
        runner.join(30)
    assert not runner.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_scheduler_records_each_run_once_and_leaves_no_execution_rows(settings):
    settings.SCHEDULER_MONITOR = {"JOB_MODULES": [], "SHUTDOWN_TIMEOUT": 5}
    run_scheduler_until_runs(4)
    assert JobRun.objects.filter(finished_at__isnull=False).count() >= 4
    assert DjangoJobExecution.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_setting_turns_django_apschedulers_execution_log_back_on(settings):
    settings.SCHEDULER_MONITOR = {
        "JOB_MODULES": [],
        "SHUTDOWN_TIMEOUT": 5,
        "DJANGO_APSCHEDULER_EXECUTIONS": True,
    }
    run_scheduler_until_runs(4)
    wait_for(lambda: DjangoJobExecution.objects.count() >= 2, timeout=30)
    executed = set(DjangoJobExecution.objects.values_list("job_id", flat=True))
    assert executed <= {"quick", "failing"}
