"""Jobs for scheduler subprocess tests: run every second or two, finish in milliseconds."""

import time

from scheduler_monitor.registry import monitored_job


@monitored_job("fast_ok", name="Fast OK", owner="Tests", category="Tests", seconds=1)
def fast_ok():
    time.sleep(0.01)


@monitored_job("fast_fail", name="Fast fail", owner="Tests", category="Tests", seconds=1)
def fast_fail():
    raise RuntimeError("fast_fail always fails")


@monitored_job("slow_job", name="Slow job", owner="Tests", category="Tests", seconds=2)
def slow_job():
    time.sleep(0.5)


@monitored_job("overlapping", name="Overlapping", owner="Tests", category="Tests", seconds=1)
def overlapping():
    """Take longer than its interval, so APScheduler skips runs at max_instances=1."""
    time.sleep(1.6)
