"""Settings of scheduler subprocesses with a job that never returns (the stop tests)."""

import os

from project.settings import *  # noqa: F403

SCHEDULER_MONITOR = {
    "JOB_MODULES": ["tests.hanging_jobs"],
    "HEARTBEAT_INTERVAL": 1,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": float(os.environ.get("TEST_SHUTDOWN_TIMEOUT", "3")),
}
