"""Time limits of runs: a watchdog records a run ``timed_out`` the moment it passes its limit.

The recorder registers each run that has a time limit; the watchdog thread sleeps until the
earliest deadline and then writes the run as timed out through the recorder's one write
path (``recording.write_timed_out``), a conditional update: a run that finished first keeps
its status, and a run that finishes later cannot overwrite ``timed_out`` (its real duration
is added as the ``real_duration_ms`` measurement). Writing does not stop the run: a thread cannot be
killed in Python, so only ``isolation="process"`` jobs are stopped (see run_isolation.py).
"""

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

RETRY_WRITE_AFTER_SECONDS = 1.0


class RunTimedOut(Exception):  # noqa: N818 - reads as what happened to the run
    """The run passed its time limit (raised where the run could really be stopped)."""


def timed_out_error(timeout_seconds: float) -> str:
    return f"RunTimedOut: the run passed its time limit of {timeout_seconds:g} s"


@dataclass(order=True)
class Deadline:
    at: float  # time.monotonic()
    order: int
    run_id: int = field(compare=False)
    job_id: str = field(compare=False)
    started_at: datetime = field(compare=False)
    timeout_seconds: float = field(compare=False)


class Watchdog:
    """One thread per process, woken at the earliest registered deadline."""

    def __init__(self, write_timed_out):
        self._write = write_timed_out
        self._heap: list[Deadline] = []
        self._live: set[int] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._order = itertools.count()

    def watch(self, *, run_id: int, job_id: str, started_at: datetime, timeout_seconds: float):
        """Time the run out ``timeout_seconds`` from now unless ``forget`` comes first."""
        deadline = Deadline(
            time.monotonic() + timeout_seconds,
            next(self._order),
            run_id,
            job_id,
            started_at,
            timeout_seconds,
        )
        with self._cond:
            self._live.add(run_id)
            heapq.heappush(self._heap, deadline)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="scheduler-monitor-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def forget(self, run_id: int) -> None:
        """The run ended: no deadline for it any more."""
        with self._cond:
            self._live.discard(run_id)

    def watching(self) -> set[int]:
        with self._cond:
            return set(self._live)

    def _next_due(self) -> list[Deadline]:
        with self._cond:
            while True:
                while self._heap and self._heap[0].run_id not in self._live:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0].at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due = []
                while self._heap and self._heap[0].at <= time.monotonic():
                    deadline = heapq.heappop(self._heap)
                    if deadline.run_id in self._live:
                        due.append(deadline)
                return due

    def _loop(self) -> None:
        while True:
            for deadline in self._next_due():
                try:
                    self._write(deadline)
                except Exception as exc:  # noqa: BLE001 - a database outage must not end the thread
                    logger.warning("Could not record run %s as timed out: %s", deadline.run_id, exc)
                    try:
                        close_old_connections()
                    except Exception as closing:  # noqa: BLE001 - nor may dropping a broken one
                        logger.warning("Could not drop the broken connection: %s", closing)
                    with self._cond:
                        if deadline.run_id in self._live:
                            deadline.at = time.monotonic() + RETRY_WRITE_AFTER_SECONDS
                            heapq.heappush(self._heap, deadline)
                    continue
                with self._cond:
                    self._live.discard(deadline.run_id)
            # Time-outs are rare: hold no connection between them (nor at the end of a
            # test run, where PostgreSQL refuses to drop a database still in use).
            connections.close_all()


_watchdog: Watchdog | None = None
_lock = threading.Lock()


def get_watchdog(write_timed_out) -> Watchdog:
    """This process's watchdog; ``write_timed_out(deadline)`` stores a run as timed out."""
    global _watchdog
    with _lock:
        if _watchdog is None:
            _watchdog = Watchdog(write_timed_out)
        return _watchdog
