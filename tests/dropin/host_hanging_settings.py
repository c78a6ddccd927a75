"""A host project's own instrumented runapscheduler, running a job that never returns."""

import os

from tests.dropin.host_settings import *  # noqa: F403

SCHEDULER_MONITOR = {
    "JOB_MODULES": ["tests.hanging_jobs"],
    "HEARTBEAT_INTERVAL": 1,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": float(os.environ.get("TEST_SHUTDOWN_TIMEOUT", "3")),
}
