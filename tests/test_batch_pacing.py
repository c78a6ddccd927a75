"""BatchPacer: batch sizes bounded by time, a pause after each batch long enough for waiters."""

import pytest

from scheduler_monitor.batch_pacing import MIN_SIZE, SQLITE_MIN_PAUSE, BatchPacer


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)


def run_batch(pacer, clock, seconds):
    with pacer.batch():
        clock.now += seconds


def test_it_halves_a_slow_batch_and_grows_a_quick_one_within_bounds():
    clock = FakeClock()
    pacer = BatchPacer(5000, vendor="sqlite", target_seconds=0.1, sleep=clock.sleep, clock=clock)
    assert pacer.size == 1000
    run_batch(pacer, clock, 0.3)
    assert pacer.size == 500
    for _ in range(10):
        run_batch(pacer, clock, 0.5)
    assert pacer.size == MIN_SIZE
    run_batch(pacer, clock, 0.07)  # between half the target and the target: kept
    assert pacer.size == MIN_SIZE
    for _ in range(20):
        run_batch(pacer, clock, 0.01)
    assert pacer.size == 5000  # never past the caller's batch size
    assert pacer.batches == 32 and pacer.longest == 0.5


@pytest.mark.parametrize(
    ("vendor", "took", "pause"),
    [("sqlite", 0.2, 0.1), ("sqlite", 0.01, SQLITE_MIN_PAUSE), ("postgresql", 0.2, 0.002)],
)
def test_it_pauses_after_each_batch_so_waiting_writers_get_the_lock(vendor, took, pause):
    """On SQLite half the batch's time (at least the minimum); PostgreSQL only breathes."""
    clock = FakeClock()
    pacer = BatchPacer(5000, vendor=vendor, sleep=clock.sleep, clock=clock)
    run_batch(pacer, clock, took)
    assert clock.slept == [pytest.approx(pause)]


def test_it_adds_up_the_time_in_batches_and_in_pauses_apart():
    """The prune's busy time leaves the pauses out (figure 8b compares it with a bare DELETE)."""
    clock = FakeClock()
    pacer = BatchPacer(5000, vendor="sqlite", sleep=clock.sleep, clock=clock)
    for took in (0.2, 0.01, 0.05):
        run_batch(pacer, clock, took)
    assert pacer.busy == pytest.approx(0.26)
    assert pacer.paused == pytest.approx(sum(clock.slept)) == pytest.approx(0.1 + 0.03 + 0.03)
