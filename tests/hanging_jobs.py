"""Jobs of the stop tests' scheduler subprocesses: one that never returns, one that ticks."""

import time

from scheduler_monitor.registry import monitored_job


@monitored_job("never_returns", name="Never returns", category="Stop test", seconds=1)
def never_returns():
    """Block for good, as a job stuck on a network call without a timeout does."""
    while True:
        time.sleep(3600)


@monitored_job("ticks", name="Ticks", category="Stop test", seconds=1)
def ticks():
    """Do nothing, every second."""
