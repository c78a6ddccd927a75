"""Jobs of the job-control end-to-end tests: a tick, sleepers past their timeout, a flaky job."""

import os
import signal
import time
from pathlib import Path

from scheduler_monitor.models import JobRun
from scheduler_monitor.registry import monitored_job

YEARLY = "0 0 1 1 *"  # never during a test: these jobs are triggered


def _note(name: str, text: str) -> None:
    Path(os.environ["JOB_CONTROL_DIR"], name).write_text(text)


@monitored_job("jc_tick", name="JC tick", category="JC", seconds=1)
def jc_tick():
    """Run every second unless overridden."""


@monitored_job("jc_sleepy", name="JC sleepy", category="JC", cron=YEARLY, timeout_seconds=2)
def jc_sleepy():
    """Sleep past the 2 s limit in a scheduler thread (which cannot be killed)."""
    time.sleep(6)


@monitored_job(
    "jc_sleepy_process",
    name="JC sleepy process",
    category="JC",
    cron=YEARLY,
    timeout_seconds=2,
    isolation="process",
)
def jc_sleepy_process():
    """Sleep a minute in a child process; the 2 s limit terminates it."""
    _note("sleepy_process.pid", str(os.getpid()))
    time.sleep(60)


@monitored_job(
    "jc_stubborn_process",
    name="JC stubborn process",
    category="JC",
    cron=YEARLY,
    timeout_seconds=2,
    isolation="process",
)
def jc_stubborn_process():
    """Ignore SIGTERM: only SIGKILL after the grace stops it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _note("stubborn_process.pid", str(os.getpid()))
    time.sleep(60)


@monitored_job(
    "jc_flaky", name="JC flaky", category="JC", cron=YEARLY, retries=3, retry_backoff_seconds=2
)
def jc_flaky():
    """Fail on the first two attempts, succeed on the third."""
    attempts = JobRun.objects.filter(job__job_id="jc_flaky").count()  # this run included
    if attempts <= 2:
        raise RuntimeError(f"flaky failure {attempts}")


@monitored_job(
    "jc_process_params",
    name="JC process params",
    category="JC",
    cron=YEARLY,
    isolation="process",
    params={"days": int},
)
def jc_process_params(days=1):
    """Write the argument it got, from a child process."""
    _note("params.txt", f"{days} {os.getpid()}")
    if days < 0:
        raise ValueError("days must not be negative")
