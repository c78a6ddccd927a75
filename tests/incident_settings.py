"""Settings of the incident tests' scheduler subprocesses: evaluate every second, one rule."""

import os

from project.settings import *  # noqa: F403 - the demo project's settings, then overrides

SCHEDULER_MONITOR = {
    "JOB_MODULES": os.environ.get("INCIDENT_TEST_JOB_MODULES", "incident_jobs").split(","),
    "HEARTBEAT_INTERVAL": 0.5,
    "HEARTBEAT_STALE_AFTER": 6,
    "TRIGGER_POLL_INTERVAL": 0.5,
    "SHUTDOWN_TIMEOUT": 5,
    "ALERT_EVALUATION_INTERVAL": 1,
    "ALERT_RULES": [
        {
            "name": "failing",
            "kind": "consecutive_failures",
            "count": 2,
            "severity": "critical",
            "jobs": ["flip_job"],
        }
    ],
    "NOTIFICATION_RETRY_DELAYS": [0.5, 0.5],
    "NOTIFICATION_TIMEOUT": 5,
    "BASE_URL": "https://ops.example.com",
    "NOTIFICATION_CHANNELS": [
        {
            "name": "receiver",
            "kind": "webhook",
            "target": os.environ["INCIDENT_TEST_HOOK"],
            "secret": os.environ["INCIDENT_TEST_SECRET"],
        }
    ],
}
