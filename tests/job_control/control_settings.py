"""Settings of the job-control scheduler subprocesses: fast loops, a 1 s kill grace."""

from project.settings import *  # noqa: F403

SCHEDULER_MONITOR = {
    "JOB_MODULES": ["tests.job_control.control_jobs"],
    "HEARTBEAT_INTERVAL": 1,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": 3,
    "PROCESS_KILL_GRACE_SECONDS": 1,
}
