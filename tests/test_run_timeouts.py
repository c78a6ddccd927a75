"""The watchdog: writes a run as timed out at its deadline, never a forgotten one."""

import threading
import time

from django.utils import timezone

from scheduler_monitor.run_timeouts import Watchdog
from tests.subprocesses import wait_for


def test_it_writes_each_due_run_once_at_its_deadline_and_skips_forgotten_ones():
    written = []
    done = threading.Event()

    def write(deadline):
        written.append((deadline.run_id, time.monotonic()))
        done.set()

    watchdog = Watchdog(write)
    started = time.monotonic()
    now = timezone.now()
    watchdog.watch(run_id=1, job_id="a", started_at=now, timeout_seconds=0.3)
    watchdog.watch(run_id=2, job_id="b", started_at=now, timeout_seconds=0.1)
    watchdog.forget(2)  # finished in time
    watchdog.watch(run_id=3, job_id="c", started_at=now, timeout_seconds=0.2)
    wait_for(lambda: len(written) == 2, timeout=5)
    time.sleep(0.3)  # would a forgotten or repeated deadline still fire? (it must not)
    assert [run_id for run_id, _ in written] == [3, 1]
    assert 0.2 <= written[0][1] - started < 1.0
    assert 0.3 <= written[1][1] - started < 1.1
    assert watchdog.watching() == set()


def test_it_retries_a_failed_write_until_the_run_ends():
    attempts = []

    def write(deadline):
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RuntimeError("database unavailable")

    watchdog = Watchdog(write)
    watchdog.watch(run_id=7, job_id="a", started_at=timezone.now(), timeout_seconds=0.05)
    wait_for(lambda: len(attempts) == 2, timeout=5)
    assert attempts[1] - attempts[0] >= 0.9  # retried after RETRY_WRITE_AFTER_SECONDS
    assert watchdog.watching() == set()


def test_a_connection_that_cannot_be_dropped_does_not_end_the_watchdog(monkeypatch):
    """Dropping the broken connection after a failed write may fail too: keep watching."""
    from scheduler_monitor import run_timeouts

    def refuse():
        raise RuntimeError("cannot even close the connection")

    monkeypatch.setattr(run_timeouts, "close_old_connections", refuse)
    attempts = []

    def write(deadline):
        attempts.append(deadline.run_id)
        if len(attempts) == 1:
            raise RuntimeError("database unavailable")

    watchdog = Watchdog(write)
    watchdog.watch(run_id=8, job_id="a", started_at=timezone.now(), timeout_seconds=0.05)
    wait_for(lambda: len(attempts) == 2, timeout=5)
    assert attempts == [8, 8]
    assert watchdog.watching() == set()
