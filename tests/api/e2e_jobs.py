"""Two quick jobs for end-to-end tests that run the real scheduler process."""

import time

from scheduler_monitor.registry import monitored_job


@monitored_job("e2e_manual", name="E2E manual", owner="QA", category="E2E", seconds=3600)
def e2e_manual():
    """Run rarely on schedule: the tests trigger it."""
    time.sleep(0.05)


@monitored_job("e2e_tick", name="E2E tick", owner="QA", category="E2E", seconds=1)
def e2e_tick():
    """Run every second, so pausing and resuming show quickly."""
