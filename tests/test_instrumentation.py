"""instrument(scheduler): a host's own runapscheduler command, monitored as a real process."""

import gc
import signal

import pytest
from django_apscheduler.models import DjangoJob

from scheduler_monitor.models import (
    JobDefinition,
    JobRun,
    JobSource,
    RunStatus,
    SchedulerInstance,
    SchedulerLease,
)
from tests.subprocesses import start_manage, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def host_scheduler(tmp_path):
    """Start the host project's runapscheduler (its own BlockingScheduler, instrumented)."""
    processes = []

    def start():
        process = start_manage(
            "runapscheduler",
            log_path=tmp_path / "host.log",
            DJANGO_SETTINGS_MODULE="tests.dropin.host_settings",
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def finished_runs(job_id):
    return JobRun.objects.filter(job__job_id=job_id).exclude(status=RunStatus.RUNNING)


def test_a_host_command_that_calls_instrument_gets_recording_lease_heartbeat_and_a_clean_stop(
    host_scheduler, tmp_path
):
    process = host_scheduler()
    log = tmp_path / "host.log"
    wait_for(
        lambda: all(
            finished_runs(job_id).count() >= 2
            for job_id in ("host_cleanup", "host_export", "fast_ok")
        ),
        timeout=60,
    )
    instance = SchedulerInstance.objects.get()
    first_beat = instance.heartbeat_at
    lease = SchedulerLease.objects.get()
    assert lease.holder_id == instance.pk and instance.pid == process.pid
    wait_for(lambda: SchedulerInstance.objects.get().heartbeat_at > first_beat, timeout=30)

    cleanup = JobDefinition.objects.get(job_id="host_cleanup")
    assert (cleanup.source, cleanup.name, cleanup.category) == (
        JobSource.DISCOVERED,
        "cleanup_sessions",
        "Uncategorised",
    )
    assert (cleanup.schedule, cleanup.expected_interval_seconds) == ("every 1s", 1.0)
    assert {r.status for r in finished_runs("host_cleanup")} == {RunStatus.SUCCESS}
    assert all(r.duration_ms >= 10 for r in finished_runs("host_cleanup"))
    export = JobDefinition.objects.get(job_id="host_export")
    assert (export.name, export.owner, export.category) == ("Nightly export", "Data", "Exports")
    failed = finished_runs("host_export").first()
    assert failed.status == RunStatus.FAILURE
    assert failed.error == "ValueError: export server said no"
    assert "flaky_export" in failed.traceback
    # Declared jobs run in the host's scheduler too, each run recorded once.
    ok_runs = list(finished_runs("fast_ok").values_list("scheduled_at", flat=True))
    assert len(ok_runs) == len(set(ok_runs))

    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, log.read_text(errors="replace")
    instance.refresh_from_db()
    assert instance.stopped_at is not None
    assert SchedulerLease.objects.get().holder_id is None
    assert "Host scheduler stopped." in log.read_text()
    assert not JobRun.objects.filter(status=RunStatus.RUNNING).exists()
    # The host's jobs stay in its job store, as it added them.
    assert set(DjangoJob.objects.values_list("id", flat=True)) >= {"host_cleanup", "host_export"}
    counters = JobDefinition.objects.get(job_id="host_cleanup")
    assert counters.success_count == finished_runs("host_cleanup").count()
    assert counters.failure_count == 0
    export.refresh_from_db()
    assert export.failure_count == finished_runs("host_export").count()


def test_a_second_instrumented_scheduler_waits_as_standby_and_takes_over(host_scheduler):
    first = host_scheduler()
    wait_for(lambda: finished_runs("host_cleanup").exists(), timeout=60)
    second = host_scheduler()
    wait_for(lambda: SchedulerInstance.objects.count() == 2, timeout=60)
    standby = SchedulerInstance.objects.get(pid=second.pid)
    wait_for(
        lambda: SchedulerInstance.objects.get(pk=standby.pk).heartbeat_at > standby.heartbeat_at,
        timeout=30,
    )
    assert not JobRun.objects.filter(pid=second.pid).exists()  # paused while standby
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == 0
    wait_for(lambda: SchedulerLease.objects.get().holder_id == standby.pk, timeout=60)
    wait_for(
        lambda: JobRun.objects.filter(pid=second.pid, status=RunStatus.SUCCESS).exists(),
        timeout=60,
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0


@pytest.mark.django_db(transaction=True)
def test_a_background_scheduler_as_started_in_app_ready_is_recorded_and_stops_cleanly(
    settings,
):
    """A host's BackgroundScheduler with its jobs in memory: instrument, start, shut down."""
    from apscheduler.schedulers.background import BackgroundScheduler

    import scheduler_monitor
    from scheduler_monitor.registry import registry
    from tests.dropin import host_jobs

    settings.SCHEDULER_MONITOR = {"JOB_MODULES": [], "HEARTBEAT_INTERVAL": 1}
    registry.clear()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(host_jobs.cleanup_sessions, "interval", seconds=1, id="in_memory")
    process = scheduler_monitor.instrument(scheduler, handle_signals=False)
    assert process.active and scheduler_monitor.instrument(scheduler) is process
    scheduler.start()
    try:
        wait_for(lambda: finished_runs("in_memory").count() >= 2, timeout=60)
    finally:
        scheduler.shutdown()
    assert {r.status for r in finished_runs("in_memory")} == {RunStatus.SUCCESS}
    job = JobDefinition.objects.get(job_id="in_memory")
    assert (job.source, job.schedule) == (JobSource.DISCOVERED, "every 1s")
    instance = SchedulerInstance.objects.get()
    assert instance.stopped_at is not None
    assert SchedulerLease.objects.get().holder_id is None
    # The pool's finished threads leave their connections to the garbage collector;
    # collect them now, or PostgreSQL refuses to drop the test database (still in use).
    gc.collect()
