"""The manual runs' own pool: the scheduler claims only as many triggers as it has free."""

from scheduler_monitor.manual_pool import ManualRunExecutor, free_manual_slots


def test_the_manual_pool_offers_only_its_free_threads():
    """Slots = threads - runs submitted and unfinished - runs added but not yet started."""
    executor = ManualRunExecutor(2)
    assert free_manual_slots(executor, scheduled_not_started=0) == 2
    assert free_manual_slots(executor, scheduled_not_started=1) == 1
    executor._instances["manual-1"] = 1  # as BaseExecutor counts a submitted run
    assert executor.unfinished == 1
    assert free_manual_slots(executor, scheduled_not_started=1) == 0
    assert free_manual_slots(executor, scheduled_not_started=5) == 0
