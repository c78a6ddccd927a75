"""Pace long batched writes (the prune) so that other writers keep getting the database.

SQLite has one write lock. A prune that deletes big batches back to back holds it nearly
all the time: the scheduler's run writes wait behind it (issue 13 saw starts 2.2 s late),
and SQLite's busy handler, which sleeps between its retries (1, 2, 5, ... 25 ms in the
first quarter second), can miss the instant between two batches again and again. So each
batch is sized to take about ``target_seconds`` (halved when it took longer, grown when it
was quick) and followed by a pause of half its time (at least ``SQLITE_MIN_PAUSE``), longer
than a writer's retry interval by then: a writer waits about one batch at most. PostgreSQL
locks rows, not the database, so there the pause is only a breath.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

TARGET_SECONDS = 0.1
SQLITE_MIN_PAUSE = 0.03
POSTGRES_PAUSE = 0.002
MIN_SIZE = 100


class BatchPacer:
    """Batch sizes bounded by time, and a pause after each batch."""

    def __init__(
        self,
        max_size: int,
        *,
        vendor: str,
        target_seconds: float = TARGET_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.max_size = max_size
        self.size = min(max_size, 1000)  # start modestly; grow while batches are quick
        self.target = target_seconds
        self.vendor = vendor
        self._sleep = sleep
        self._clock = clock
        self.batches = 0
        self.longest = 0.0  # seconds of the longest batch, for the benchmark and the log
        self.busy = 0.0  # seconds inside batches, in all
        self.paused = 0.0  # seconds of the pauses after them, in all

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Time one batch (its transaction inside this block), then adapt and pause."""
        started = self._clock()
        yield
        took = self._clock() - started
        self.batches += 1
        self.longest = max(self.longest, took)
        self.busy += took
        if took > self.target:
            self.size = max(min(MIN_SIZE, self.max_size), self.size // 2)
        elif took < self.target / 2:
            self.size = min(self.max_size, max(self.size + 1, int(self.size * 1.5)))
        pause = self.pause_after(took)
        self.paused += pause
        self._sleep(pause)

    def pause_after(self, took: float) -> float:
        if self.vendor == "sqlite":
            return max(SQLITE_MIN_PAUSE, took / 2)
        return POSTGRES_PAUSE
