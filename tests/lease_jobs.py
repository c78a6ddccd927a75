"""Jobs of the lease tests' scheduler subprocesses."""

import os
import time
from pathlib import Path

from scheduler_monitor.registry import monitored_job


@monitored_job("tick", name="Tick", category="Lease test", seconds=1)
def tick():
    """Do nothing, every second: each scheduled time must be run exactly once."""


@monitored_job("long_job", name="Long job", category="Lease test", seconds=2)
def long_job():
    """Run until the test drops the release file (at most a minute): an in-flight run."""
    release = Path(os.environ["LEASE_TEST_RELEASE"])
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
