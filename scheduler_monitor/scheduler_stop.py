"""How a scheduler process stops when jobs do not: abandon, record, exit.

A job thread that never returns would keep the interpreter alive after the scheduler
stopped (executor threads are not daemons). After SHUTDOWN_TIMEOUT its run is recorded
``abandoned`` (with an event) and ``runapscheduler`` exits with ``EXIT_ABANDONED``; a
second stop signal records what it can within ``EXIT_NOW_SECONDS`` and exits at once.
"""

import contextlib
import logging
import os
import sys
import threading

from django.db import close_old_connections
from django.utils import timezone

from scheduler_monitor import lease, record_retry, runs, scheduler_instances
from scheduler_monitor.recording import get_recorder
from scheduler_monitor.scheduler_events import abandoned_at_stop_record

logger = logging.getLogger(__name__)

# Exit status of a scheduler that abandoned running jobs at stop (a clean stop is 0).
EXIT_ABANDONED = 3
# How long a second stop signal waits for the final records before exiting.
EXIT_NOW_SECONDS = 5


def hard_exit(status: int) -> None:
    """Exit now, whatever threads still run (job threads are not daemons and never end)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def abandon_own_runs(process, reason: str, timeout: float | None = None) -> None:
    """Mark this process's running runs abandoned and record the event; never raises."""
    recorder = get_recorder()
    try:
        close_old_connections()
        runs.job_runs_abandon(
            runs=process._own_running_runs(recorder.active_run_ids()), reason=reason
        )
        abandoned_at_stop_record(
            started_at=process.stopping_at or timezone.now(),
            runs=recorder.active_count,
            timeout=timeout,
        )
    except Exception:  # noqa: BLE001 - the stop goes on; the runs become orphans
        logger.exception("Could not mark the unfinished runs abandoned")


def flush_records() -> None:
    """Write what waits in the buffers, each step tried on its own; never raises."""
    recorder = get_recorder()
    for step in (close_old_connections, recorder.flush, record_retry.retry_writes):
        try:
            step()
        except Exception:  # noqa: BLE001 - a database down at stop must not skip the rest
            logger.exception("Stop step %s failed", getattr(step, "__name__", step))
    if len(recorder.buffer):
        logger.error("%s run record(s) could not be written at stop", len(recorder.buffer))


def release_and_record_stop(process) -> None:
    """Release the lease and record the stop; never raises."""
    try:
        close_old_connections()
        if process.active:
            lease.release(process.instance)
        if process.instance is not None:
            scheduler_instances.scheduler_instance_stop(instance=process.instance)
    except Exception:  # noqa: BLE001 - the lease expires by itself
        logger.exception("Could not record the scheduler's stop")


def record_stop(process) -> None:
    """Flush what waits, release the lease, record the stop: each step tried on its own."""
    flush_records()
    release_and_record_stop(process)


def exit_now(process, signum: int) -> None:
    """A second stop signal: record what can be recorded within seconds, then exit.

    Called from a signal handler, so it returns at once: the main thread it interrupted
    may hold a lock (a logging handler's, a database transaction) that the final writes
    need, and it only lets go once the handler returns. A third signal exits on the spot.
    """
    if process.exiting_now:
        os._exit(128 + signum)
    process.exiting_now = True
    logger.warning("Second stop signal: exiting now")
    process.unfinished_runs = max(get_recorder().active_count, process.unfinished_runs)

    def record():
        if get_recorder().active_count:
            abandon_own_runs(process, "Scheduler stopped at once by a second stop signal")
        # The lease first: with seconds to spare, a standby taking over matters most;
        # buffered records are flushed after it if time remains.
        release_and_record_stop(process)
        flush_records()

    def record_then_exit():
        worker = threading.Thread(target=record, name="scheduler-monitor-last-records", daemon=True)
        worker.start()
        worker.join(EXIT_NOW_SECONDS)
        hard_exit(128 + signum)

    # Not a daemon: should the main thread finish first, the exit status is still this one.
    threading.Thread(target=record_then_exit, name="scheduler-monitor-exit-now").start()
