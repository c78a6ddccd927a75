"""`make demo` (scripts/demo): Ctrl+C stops the scheduler too, and a second Ctrl+C at once."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.subprocesses import ROOT

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def query(db: Path, sql: str):
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []


def poll(condition, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")


def test_ctrl_c_stops_the_scheduler_and_a_second_one_stops_it_at_once(tmp_path):
    """With a job that never returns and a long SHUTDOWN_TIMEOUT, the first Ctrl+C asks
    the scheduler to stop (it waits for the job), the second ends it within seconds, with
    the run recorded as abandoned."""
    db = tmp_path / "demo.sqlite3"
    log = tmp_path / "demo.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "DEMO_PORT": str(free_port()),
        "DJANGO_SETTINGS_MODULE": "tests.hanging_settings",
        "TEST_SHUTDOWN_TIMEOUT": "600",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            ["bash", "scripts/demo", sys.executable],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            # A terminal's Ctrl+C reaches processes whose SIGINT is not ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        running = (
            "SELECT r.id FROM scheduler_monitor_jobrun r JOIN scheduler_monitor_jobdefinition j "
            "ON j.id = r.job_id WHERE j.job_id = 'never_returns' AND r.status = 'running'"
        )
        run_id = poll(lambda: query(db, running), 120, "the hanging run", log)[0][0]
        pid = query(db, "SELECT pid FROM scheduler_monitor_schedulerinstance")[0][0]
        scheduler_log = ROOT / ".demo" / "scheduler.log"

        os.killpg(demo.pid, signal.SIGINT)  # Ctrl+C
        poll(lambda: "Scheduler stopping" in scheduler_log.read_text(), 30, "the stop", log)
        time.sleep(1)
        assert os.path.exists(f"/proc/{pid}"), "the first Ctrl+C must wait for running jobs"
        assert demo.poll() is None

        sent = time.monotonic()
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl+C again
        status = demo.wait(30)
        waited = time.monotonic() - sent
        assert status == 0  # Ctrl+C is how the demo ends: no error
        poll(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the scheduler to exit", log)
        row = query(db, f"SELECT status, error FROM scheduler_monitor_jobrun WHERE id = {run_id}")
        assert row[0][0] == "abandoned", row
        assert "second stop signal" in row[0][1]
        print(f"demo exited {waited:.1f}s after the second Ctrl+C")
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
