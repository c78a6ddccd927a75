"""The job of the incident tests: fails every second while the test's fail file exists."""

import os
from pathlib import Path

from scheduler_monitor.registry import monitored_job


@monitored_job("flip_job", name="Flip job", owner="Tests", category="Incidents", seconds=1)
def flip_job():
    if Path(os.environ["INCIDENT_TEST_FAIL"]).exists():
        raise RuntimeError("flip_job: upstream said no")
