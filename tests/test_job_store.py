"""The scheduler's job store waits out an outage instead of ending the scheduler loop."""

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from django.db import connection

from scheduler_monitor.models import JobRun, RunStatus, SchedulerEvent, SchedulerEventKind
from tests.subprocesses import start_manage, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock"),
]

# Longer than two busy timeouts (20 s each, project settings): the store's own retry
# alone gave up after two.
LOCK_SECONDS = 45


def test_a_write_lock_held_longer_than_two_busy_timeouts_does_not_end_the_scheduler(tmp_path):
    log_path = tmp_path / "scheduler.log"
    process = start_manage("runapscheduler", log_path=log_path)
    try:
        wait_for(
            lambda: JobRun.objects.filter(job__job_id="fast_ok", status="success").count() >= 3,
            timeout=60,
        )
        code = (
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            f"time.sleep({LOCK_SECONDS})\n"
            "c.execute('ROLLBACK')\n"
        )
        subprocess.run(
            [sys.executable, "-c", code, connection.settings_dict["NAME"]],
            check=True,
            timeout=LOCK_SECONDS + 30,
        )
        released = time.time()
        assert process.poll() is None, log_path.read_text()[-3000:]
        wait_for(
            lambda: (
                JobRun.objects.filter(
                    job__job_id="fast_ok",
                    status=RunStatus.SUCCESS,
                    started_at__gt=datetime.fromtimestamp(released, tz=UTC),
                ).count()
                >= 3
            ),
            timeout=60,
        )
        gap = JobRun.objects.filter(job__job_id="fast_ok", status=RunStatus.MISSED).first()
        assert gap is not None and gap.measurements["missed_fire_times"] >= LOCK_SECONDS - 25
        event = SchedulerEvent.objects.get(kind=SchedulerEventKind.DATABASE_UNREACHABLE)
        assert (event.ended_at - event.started_at).total_seconds() >= LOCK_SECONDS - 10
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
