"""The rolling in-memory window: per job the last N durations, with memoised statistics.

Pure Python, no Django; ``window.py`` keeps one per process in step with the database.
Each sample is a duration (ms) and the time its run started (epoch seconds, NaN when
unknown), kept in two fixed-size arrays per job: 16 bytes a sample.
"""

import math
import threading
from array import array
from collections.abc import Iterable

from scheduler_monitor.stats import EMPTY_STATS, Stats, summarise

NO_TIME = math.nan


class _History:
    """One job's last ``maxlen`` samples: two ring buffers, oldest at ``head`` once full."""

    __slots__ = ("durations", "times", "head")

    def __init__(self, durations: array, times: array):
        self.durations = durations
        self.times = times
        self.head = 0

    def append(self, maxlen: int, duration: float, at: float) -> None:
        if len(self.durations) < maxlen:
            self.durations.append(duration)
            self.times.append(at)
        else:
            self.durations[self.head] = duration
            self.times[self.head] = at
            self.head = (self.head + 1) % maxlen

    def ordered(self, values: array) -> list[float]:
        """``values`` oldest first."""
        head = self.head
        if not head:
            return values.tolist()
        return values[head:].tolist() + values[:head].tolist()

    def newest_since(self, since: float) -> list[float]:
        """Durations of the newest runs started at or after ``since`` (walking back).

        Samples are kept in the order they were recorded, which is start order but for
        runs that overlapped: the walk stops at the first run started before ``since``.
        """
        durations, times = self.durations, self.times
        size = len(durations)
        out = []
        index = self.head - 1
        for _ in range(size):
            if index < 0:
                index = size - 1
            if not times[index] >= since:  # NaN (time unknown) ends the walk too
                break
            out.append(durations[index])
            index -= 1
        return out


class RollingWindow:
    """Bounded per-job duration histories, safe to share between threads."""

    def __init__(self, maxlen: int = 1000):
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._lock = threading.Lock()
        self._histories: dict[str, _History] = {}
        # Memoised statistics; a job is recomputed only after it got a new sample.
        self._cache: dict[str, Stats] = {}
        self._versions: dict[str, int] = {}

    def add(self, job_id: str, duration_ms: float, started_at: float = NO_TIME) -> None:
        """Append one finished run's duration (and start, epoch s), evicting beyond maxlen."""
        with self._lock:
            history = self._histories.get(job_id)
            if history is None:
                history = self._histories[job_id] = _History(array("d"), array("d"))
            history.append(self.maxlen, float(duration_ms), float(started_at))
            self._touch(job_id)

    def replace(
        self, job_id: str, durations: Iterable[float], times: Iterable[float] | None = None
    ) -> None:
        """Set a job's history, oldest first (used when warming); times in epoch seconds."""
        values = array("d", (float(d) for d in durations))
        starts = array("d", (float(t) for t in times)) if times is not None else None
        if starts is None or len(starts) != len(values):
            starts = array("d", [NO_TIME]) * len(values)
        if len(values) > self.maxlen:
            values, starts = values[-self.maxlen :], starts[-self.maxlen :]
        history = _History(values, starts)
        with self._lock:
            self._histories[job_id] = history
            self._touch(job_id)

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._histories.pop(job_id, None)
            self._touch(job_id)

    def clear(self) -> None:
        with self._lock:
            for job_id in list(self._histories):
                self._touch(job_id)
            self._histories.clear()

    def _touch(self, job_id: str) -> None:
        """Invalidate a job's memoised statistics (caller holds the lock)."""
        self._cache.pop(job_id, None)
        self._versions[job_id] = self._versions.get(job_id, 0) + 1

    def job_ids(self) -> list[str]:
        with self._lock:
            return list(self._histories)

    def version(self, job_id: str) -> int:
        """A number that changes whenever the job's samples change."""
        with self._lock:
            return self._versions.get(job_id, 0)

    def samples(self, job_id: str) -> list[float]:
        """Return a copy of a job's durations, oldest first."""
        with self._lock:
            history = self._histories.get(job_id)
            return history.ordered(history.durations) if history is not None else []

    def timed_samples(self, job_id: str) -> tuple[list[float], list[float]]:
        """A job's durations and their start times (epoch s), oldest first."""
        with self._lock:
            history = self._histories.get(job_id)
            if history is None:
                return [], []
            return history.ordered(history.durations), history.ordered(history.times)

    def durations_since(self, job_id: str, since: float) -> list[float]:
        """Durations of the job's kept runs started at or after ``since`` (epoch s)."""
        with self._lock:
            history = self._histories.get(job_id)
            return history.newest_since(since) if history is not None else []

    def get_statistics(self, job_id: str) -> Stats:
        """Return the statistics of one job (``EMPTY_STATS`` for an unknown job)."""
        with self._lock:
            cached = self._cache.get(job_id)
            if cached is not None:
                return cached
            history = self._histories.get(job_id)
            if history is None:
                return EMPTY_STATS
            snapshot = history.durations.tolist()  # order does not matter for statistics
            version = self._versions.get(job_id, 0)
        # Sorting happens outside the lock so recording threads are never held up by it.
        stats = summarise(snapshot)
        with self._lock:
            if self._versions.get(job_id, 0) == version:
                self._cache[job_id] = stats
        return stats

    def get_all_statistics(self) -> dict[str, Stats]:
        """Return statistics for every job that has a history."""
        return {job_id: self.get_statistics(job_id) for job_id in self.job_ids()}
