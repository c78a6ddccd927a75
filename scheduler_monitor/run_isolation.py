"""``isolation="process"``: run a job in a child process that can be stopped at its timeout.

The child is started with the ``spawn`` method: a fresh interpreter that sets Django up
itself and opens its own database connections, so it never shares (and never closes) the
scheduler's. At the time limit the child gets SIGTERM, then SIGKILL after
``PROCESS_KILL_GRACE_SECONDS``; the parent records the run as timed out. Python threads
cannot be stopped from outside, which is why thread-run jobs only get the status.
"""

import importlib
import logging
import multiprocessing
import time
import traceback

from scheduler_monitor import conf
from scheduler_monitor.run_timeouts import RunTimedOut

logger = logging.getLogger(__name__)


class ChildJobFailed(Exception):  # noqa: N818 - the child's own exception, named after it
    """The job raised in its child process; ``child_traceback`` is the child's traceback."""

    def __init__(self, message: str, child_traceback: str = ""):
        super().__init__(message)
        self.child_traceback = child_traceback


def _child_main(module: str, qualname: str, kwargs: dict, conn) -> None:
    """The child: set Django up, run the job, send back None or (error, traceback)."""
    import django

    django.setup()
    try:
        target = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        target(**kwargs)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then exit 1
        conn.send((f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        conn.close()
        raise SystemExit(1) from None
    conn.send(None)
    conn.close()


def run_in_child_process(
    func, kwargs: dict, *, timeout_seconds: float | None, started: float | None = None
) -> None:
    """Run ``func(**kwargs)`` in a child; raise RunTimedOut or ChildJobFailed as it ends.

    ``started`` (``time.monotonic()``) is when the run began, so the time limit counts
    the child's start-up too.
    """
    started = time.monotonic() if started is None else started
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main,
        args=(func.__module__, func.__qualname__, kwargs, sender),
        name=f"scheduler-monitor-job-{func.__qualname__}",
    )
    child.start()
    sender.close()
    remaining = (
        None if not timeout_seconds else max(0.0, started + timeout_seconds - time.monotonic())
    )
    child.join(remaining)
    if child.is_alive():
        _stop(child)
        raise RunTimedOut(
            f"the run passed its time limit of {timeout_seconds:g} s; "
            f"child process {child.pid} stopped ({_signal_name(child.exitcode)})"
        )
    outcome = receiver.recv() if receiver.poll() else None
    receiver.close()
    if outcome is not None:
        raise ChildJobFailed(*outcome)
    if child.exitcode != 0:
        raise ChildJobFailed(f"the child process exited with {_signal_name(child.exitcode)}")


def _stop(child) -> None:
    """SIGTERM, then SIGKILL after the grace if the child is still there."""
    grace = conf.get("PROCESS_KILL_GRACE_SECONDS")
    logger.warning("Stopping child process %s at its time limit (SIGTERM)", child.pid)
    child.terminate()
    child.join(grace)
    if child.is_alive():
        logger.warning("Child process %s ignored SIGTERM for %ss: SIGKILL", child.pid, grace)
        child.kill()
        child.join()


def _signal_name(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        import signal

        return f"signal {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"
