"""Runs past their timeout in a real scheduler: timed_out at the limit; child processes stopped."""

import os
import time
from pathlib import Path

import pytest

from scheduler_monitor.alert_rules import firing_alerts
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from tests.api.helpers import data_of
from tests.subprocesses import wait_for

P = "/api/v1/scheduler"
TIMEOUT = 2.0
GRACE = 1.0  # PROCESS_KILL_GRACE_SECONDS of control_settings


def trigger(api, job_id: str) -> float:
    data_of(api.post(f"{P}/jobs/{job_id}/trigger"), 202, "accepted")
    return time.monotonic()


def the_run(job_id: str) -> JobRun:
    return wait_for(lambda: JobRun.objects.filter(job__job_id=job_id).first(), timeout=30)


def pid_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie has exited too; the scheduler reaps its children with join().
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" in status.read_text()


@pytest.mark.slow
def test_a_thread_job_is_timed_out_at_its_limit_and_keeps_its_real_duration(scheduler, api):
    """Status within timeout + 2 s of its start; the late return does not overwrite it."""
    scheduler.start()
    trigger(api, "jc_sleepy")
    run = the_run("jc_sleepy")
    seen_running = time.monotonic()
    timed_out = wait_for(
        lambda: JobRun.objects.filter(pk=run.pk, status=RunStatus.TIMED_OUT).first(), timeout=30
    )
    # Wall clock here, and the row's own times: both within the limit + 2 s.
    assert time.monotonic() - seen_running <= TIMEOUT + 2
    recorded_after = (timed_out.recorded_at - timed_out.started_at).total_seconds()
    assert TIMEOUT <= recorded_after <= TIMEOUT + 2
    assert timed_out.duration_ms == TIMEOUT * 1000
    assert "time limit of 2 s" in timed_out.error
    job = JobDefinition.objects.get(job_id="jc_sleepy")
    assert (job.timed_out_count, job.failure_count, job.last_status) == (1, 1, "timed_out")
    alerts = [a for a in firing_alerts() if a.kind == "timed_out"]
    assert [a.job_id for a in alerts] == ["jc_sleepy"]
    assert "a thread cannot be stopped" in alerts[0].message
    # The thread returns after 6 s: status and counters stay, the real duration is added.
    late = wait_for(
        lambda: (r := JobRun.objects.get(pk=run.pk)).measurements.get("real_duration_ms") and r,
        timeout=30,
    )
    assert late.status == RunStatus.TIMED_OUT
    assert 6000 <= late.measurements["real_duration_ms"] < 15000
    job.refresh_from_db()
    assert (job.timed_out_count, job.failure_count, job.success_count) == (1, 1, 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("job_id", "pid_file", "signal_name"),
    [
        ("jc_sleepy_process", "sleepy_process.pid", "SIGTERM"),
        ("jc_stubborn_process", "stubborn_process.pid", "SIGKILL"),
    ],
)
def test_a_process_job_is_stopped_at_its_limit_while_others_run(
    scheduler, api, tmp_path, job_id, pid_file, signal_name
):
    """The child is gone within timeout + grace + 2 s; the tick job keeps running meanwhile."""
    scheduler.start()
    trigger(api, job_id)
    pid = int(
        wait_for(
            lambda: (tmp_path / pid_file).exists() and (tmp_path / pid_file).read_text(), timeout=30
        )
    )
    run = the_run(job_id)
    child_started = time.monotonic()
    assert pid != scheduler.process.pid
    wait_for(lambda: pid_is_gone(pid), timeout=TIMEOUT + GRACE + 2)
    assert time.monotonic() - child_started <= TIMEOUT + GRACE + 2
    done = wait_for(
        lambda: JobRun.objects.filter(pk=run.pk, status=RunStatus.TIMED_OUT).first(), timeout=10
    )
    assert done.duration_ms == TIMEOUT * 1000
    final = wait_for(
        lambda: (r := JobRun.objects.get(pk=run.pk)).measurements.get("real_duration_ms") and r,
        timeout=10,
    )
    assert signal_name in final.error
    # Other jobs kept running while the child was stopped, and after.
    ticks = JobRun.objects.filter(job__job_id="jc_tick", status=RunStatus.SUCCESS)
    assert ticks.filter(started_at__gte=run.started_at, started_at__lte=done.recorded_at).exists()
    wait_for(lambda: ticks.filter(started_at__gt=done.recorded_at).count() >= 2, timeout=15)
    assert not JobRun.objects.filter(job__job_id="jc_tick", status=RunStatus.FAILURE).exists()
    assert scheduler.process.poll() is None
    job = JobDefinition.objects.get(job_id=job_id)
    assert (job.timed_out_count, job.failure_count) == (1, 1)


@pytest.mark.slow
def test_a_process_job_gets_its_arguments_and_reports_its_error(scheduler, api, tmp_path):
    """Arguments reach the child; the child's exception and traceback are recorded."""
    scheduler.start()
    body = {"params": {"days": -3}}
    data_of(api.post(f"{P}/jobs/jc_process_params/trigger", body, format="json"), 202, None)
    run = wait_for(
        lambda: (
            JobRun.objects.filter(job__job_id="jc_process_params")
            .exclude(status=RunStatus.RUNNING)
            .first()
        ),
        timeout=30,
    )
    days, pid = (tmp_path / "params.txt").read_text().split()
    assert days == "-3" and int(pid) != scheduler.process.pid
    assert (run.status, run.params) == (RunStatus.FAILURE, {"days": -3})
    assert "ValueError: days must not be negative" in run.error
    assert "control_jobs.py" in run.traceback and "raise ValueError" in run.traceback
