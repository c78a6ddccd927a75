"""Settings of the fault-injection test's scheduler subprocess."""

from project.settings import *  # noqa: F403

SCHEDULER_MONITOR = {
    "JOB_MODULES": ["tests.fault_jobs"],
    "HEARTBEAT_INTERVAL": 0.5,
    "HEARTBEAT_STALE_AFTER": 6,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": 5,
}
