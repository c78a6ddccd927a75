"""Settings of scheduler subprocesses started by tests: the demo project, quick jobs, fast loops."""

from project.settings import *  # noqa: F403

SCHEDULER_MONITOR = {
    "JOB_MODULES": ["tests.api.e2e_jobs"],
    "HEARTBEAT_INTERVAL": 1,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": 10,
}
