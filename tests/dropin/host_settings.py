"""A host project whose own app ships a runapscheduler command (listed first: it wins)."""

from project.settings import *  # noqa: F403

INSTALLED_APPS = ["tests.dropin.hostapp", *INSTALLED_APPS]  # noqa: F405

SCHEDULER_MONITOR = {
    "JOB_MODULES": ["tests.fast_jobs"],
    "HEARTBEAT_INTERVAL": 1,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": 5,
    "JOBS": {"host_export": {"name": "Nightly export", "owner": "Data", "category": "Exports"}},
}
