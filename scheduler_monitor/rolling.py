"""The rolling in-memory window: per job the last N durations, with memoised statistics.

Pure Python, no Django; ``window.py`` keeps one per process in step with the database.
"""

import threading
from collections import deque
from collections.abc import Iterable

from scheduler_monitor.stats import EMPTY_STATS, Stats, summarise


class RollingWindow:
    """Bounded per-job duration histories, safe to share between threads."""

    def __init__(self, maxlen: int = 1000):
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._lock = threading.Lock()
        self._histories: dict[str, deque[float]] = {}
        # Memoised statistics; a job is recomputed only after it got a new sample.
        self._cache: dict[str, Stats] = {}
        self._versions: dict[str, int] = {}

    def add(self, job_id: str, duration_ms: float) -> None:
        """Append one finished run's duration, evicting the oldest beyond maxlen."""
        with self._lock:
            history = self._histories.get(job_id)
            if history is None:
                history = self._histories[job_id] = deque(maxlen=self.maxlen)
            history.append(float(duration_ms))
            self._touch(job_id)

    def replace(self, job_id: str, durations: Iterable[float]) -> None:
        """Set a job's history to the given durations, oldest first (used when warming)."""
        history = deque((float(d) for d in durations), maxlen=self.maxlen)
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

    def samples(self, job_id: str) -> list[float]:
        """Return a copy of a job's durations, oldest first."""
        with self._lock:
            return list(self._histories.get(job_id, ()))

    def get_statistics(self, job_id: str) -> Stats:
        """Return the statistics of one job (``EMPTY_STATS`` for an unknown job)."""
        with self._lock:
            cached = self._cache.get(job_id)
            if cached is not None:
                return cached
            history = self._histories.get(job_id)
            if history is None:
                return EMPTY_STATS
            snapshot = list(history)
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
