"""runapscheduler always stops: a job that never returns cannot keep the process alive."""

import signal
import time

import pytest

from scheduler_monitor.models import (
    JobRun,
    RunStatus,
    SchedulerEvent,
    SchedulerEventKind,
    SchedulerInstance,
    SchedulerLease,
)
from tests.subprocesses import start_manage, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SETTINGS = "tests.hanging_settings"
# Interpreter start, Django set-up and the final writes on a loaded machine.
SLACK = 20


@pytest.fixture
def scheduler(tmp_path):
    processes = []

    def start(**env):
        process = start_manage(
            "runapscheduler",
            log_path=tmp_path / "scheduler.log",
            DJANGO_SETTINGS_MODULE=SETTINGS,
            **env,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def log_of(tmp_path):
    return (tmp_path / "scheduler.log").read_text(errors="replace")


def hanging_run():
    return JobRun.objects.filter(job__job_id="never_returns", status=RunStatus.RUNNING).first()


def wait_exit(process, timeout, tmp_path):
    try:
        return process.wait(timeout)
    except Exception as exc:
        raise AssertionError(f"no exit within {timeout}s\n{log_of(tmp_path)[-3000:]}") from exc


def test_sigterm_with_a_job_that_never_returns_exits_non_zero_after_the_timeout(
    scheduler, tmp_path
):
    """The run is abandoned, the lease released, the stop recorded; exit status 3."""
    process = scheduler(TEST_SHUTDOWN_TIMEOUT="3")
    run = wait_for(hanging_run, timeout=60)
    wait_for(lambda: JobRun.objects.filter(job__job_id="ticks").exists(), timeout=30)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    status = wait_exit(process, 3 + SLACK, tmp_path)
    waited = time.monotonic() - sent
    assert status == 3, log_of(tmp_path)[-3000:]
    assert waited >= 3  # it did wait SHUTDOWN_TIMEOUT for the job first
    run.refresh_from_db()
    assert run.status == RunStatus.ABANDONED
    assert "did not finish within 3" in run.error
    assert SchedulerLease.objects.get().holder_id is None
    assert SchedulerInstance.objects.get(pid=process.pid).stopped_at is not None
    event = SchedulerEvent.objects.get(kind=SchedulerEventKind.ABANDONED_AT_STOP)
    assert "1 running job(s) abandoned" in event.message
    assert "still running; they were recorded as abandoned" in log_of(tmp_path)
    print(f"exit {status} after {waited:.1f}s (SHUTDOWN_TIMEOUT 3s)")


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_exits_at_once_recording_the_abandoned_run(scheduler, tmp_path, second):
    """With a long SHUTDOWN_TIMEOUT, a second TERM or INT ends the process within seconds."""
    process = scheduler(TEST_SHUTDOWN_TIMEOUT="600")
    run = wait_for(hanging_run, timeout=60)
    process.send_signal(signal.SIGTERM)
    wait_for(lambda: "Scheduler stopping" in log_of(tmp_path), timeout=20)
    sent = time.monotonic()
    process.send_signal(second)
    status = wait_exit(process, SLACK, tmp_path)
    waited = time.monotonic() - sent
    assert status == 128 + second, log_of(tmp_path)[-3000:]
    run.refresh_from_db()
    assert run.status == RunStatus.ABANDONED, log_of(tmp_path)[-3000:]
    assert "second stop signal" in run.error
    assert SchedulerLease.objects.get().holder_id is None, log_of(tmp_path)[-3000:]
    assert SchedulerInstance.objects.get(pid=process.pid).stopped_at is not None
    print(f"exit {status} {waited:.1f}s after the second signal")
