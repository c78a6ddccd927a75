"""Settings of the scheduler subprocess of the cadence tests (trigger flood, prune)."""

from project.settings import *  # noqa: F403 - the demo project's settings, then overrides

SCHEDULER_MONITOR = {
    "JOB_MODULES": ["tests.cadence_jobs"],
    "HEARTBEAT_INTERVAL": 1,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": 5,
}
