"""instrument(scheduler): a host's own command with a job that never returns always stops."""

import signal
import time

import pytest

from scheduler_monitor.models import JobRun, RunStatus, SchedulerInstance, SchedulerLease
from scheduler_monitor.scheduler_stop import EXIT_ABANDONED
from tests.subprocesses import start_manage, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Interpreter start, Django set-up and the final writes on a loaded machine.
SLACK = 20


@pytest.fixture
def host_scheduler(tmp_path):
    processes = []

    def start(**env):
        process = start_manage(
            "runapscheduler",
            log_path=tmp_path / "host.log",
            DJANGO_SETTINGS_MODULE="tests.dropin.host_hanging_settings",
            **env,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def hanging_run():
    return JobRun.objects.filter(job__job_id="never_returns", status=RunStatus.RUNNING).first()


def wait_exit(process, timeout, tmp_path):
    try:
        return process.wait(timeout)
    except Exception as exc:
        log = (tmp_path / "host.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"no exit within {timeout}s\n{log}") from exc


def test_a_host_scheduler_exits_3_after_the_shutdown_timeout_with_the_run_abandoned(
    host_scheduler, tmp_path
):
    process = host_scheduler(TEST_SHUTDOWN_TIMEOUT="3")
    run = wait_for(hanging_run, timeout=60)
    process.send_signal(signal.SIGTERM)
    assert wait_exit(process, 3 + SLACK, tmp_path) == EXIT_ABANDONED
    run.refresh_from_db()
    assert run.status == RunStatus.ABANDONED
    assert SchedulerLease.objects.get().holder_id is None
    assert SchedulerInstance.objects.get(pid=process.pid).stopped_at is not None


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_ends_a_host_scheduler_at_once(host_scheduler, tmp_path, second):
    process = host_scheduler(TEST_SHUTDOWN_TIMEOUT="600")
    run = wait_for(hanging_run, timeout=60)
    process.send_signal(signal.SIGTERM)
    wait_for(
        lambda: "Scheduler stopping" in (tmp_path / "host.log").read_text(errors="replace"),
        timeout=20,
    )
    sent = time.monotonic()
    process.send_signal(second)
    assert wait_exit(process, SLACK, tmp_path) == 128 + second
    assert time.monotonic() - sent < SLACK
    run.refresh_from_db()
    assert run.status == RunStatus.ABANDONED
    assert "second stop signal" in run.error
    # The lease release is tried within the same seconds but not awaited past them (it may
    # wait on a write lock): a standby takes over at its expiry at the latest.
