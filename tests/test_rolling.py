"""The rolling window: bounded, memoised, thread-safe."""

import random
import threading

import pytest

from scheduler_monitor import rolling
from scheduler_monitor.rolling import RollingWindow
from scheduler_monitor.stats import EMPTY_STATS, summarise


def test_it_evicts_the_oldest_sample_at_maxlen():
    """Only the last maxlen durations are kept, in order."""
    window = RollingWindow(maxlen=3)
    for value in [1, 2, 3, 4, 5]:
        window.add("a", value)
    assert window.samples("a") == [3.0, 4.0, 5.0]
    assert window.get_statistics("a").sample_count == 3
    assert window.get_statistics("a").min_duration_ms == 3.0


def test_it_returns_empty_stats_for_an_unknown_job():
    assert RollingWindow().get_statistics("nope") == EMPTY_STATS


def test_it_recomputes_only_jobs_that_got_a_new_sample(monkeypatch):
    """Statistics are memoised per job; one new sample recomputes that job alone."""
    window = RollingWindow(maxlen=100)
    for job in ["a", "b", "c"]:
        for value in range(10):
            window.add(job, value)
    calls = []
    real = rolling.summarise
    monkeypatch.setattr(rolling, "summarise", lambda data: calls.append(1) or real(data))
    first = window.get_all_statistics()
    assert len(calls) == 3
    window.get_all_statistics()
    assert len(calls) == 3
    window.add("b", 100)
    again = window.get_all_statistics()
    assert len(calls) == 4
    assert again["a"] is first["a"]
    assert again["b"].max_duration_ms == 100.0


def test_it_replaces_a_history_and_drops_memoised_stats():
    window = RollingWindow(maxlen=5)
    window.add("a", 1)
    assert window.get_statistics("a").max_duration_ms == 1.0
    window.replace("a", [10, 20, 30, 40, 50, 60])
    assert window.samples("a") == [20.0, 30.0, 40.0, 50.0, 60.0]
    assert window.get_statistics("a").max_duration_ms == 60.0


def test_it_refuses_a_zero_maxlen():
    with pytest.raises(ValueError, match="maxlen"):
        RollingWindow(maxlen=0)


def test_it_keeps_exact_histories_under_eight_threads():
    """8 threads adding 10,000 samples in all lose none and keep each job's last N."""
    window = RollingWindow(maxlen=1000)
    per_thread = 1250
    values = {t: [random.Random(t).random() * 1000 for _ in range(per_thread)] for t in range(8)}

    def work(thread_no):
        for value in values[thread_no]:
            window.add(f"job{thread_no % 2}", value)
            if value > 990:
                window.get_statistics(f"job{thread_no % 2}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for job in ["job0", "job1"]:
        kept = window.samples(job)
        assert len(kept) == 1000
        # What each thread contributed is a suffix of what it added, in its order: nothing
        # lost in the middle, nothing duplicated.
        for t in range(8):
            if f"job{t % 2}" != job:
                continue
            mine = [v for v in kept if v in set(values[t])]
            assert mine == values[t][len(values[t]) - len(mine) :]
        assert window.get_statistics(job) == summarise(kept)
