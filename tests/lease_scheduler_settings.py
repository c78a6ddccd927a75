"""Settings of the scheduler subprocesses started by the lease tests: fast heartbeats."""

from project.settings import *  # noqa: F403 - the demo project's settings, then overrides

SCHEDULER_MONITOR = {
    "JOB_MODULES": ["lease_jobs"],
    "HEARTBEAT_INTERVAL": 0.5,
    "HEARTBEAT_STALE_AFTER": 6,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": 5,
}
