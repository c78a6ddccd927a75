"""Settings of the web processes of the scheduler-down watch test: check every second."""

import os

from project.settings import *  # noqa: F403 - the demo project's settings, then overrides

SCHEDULER_MONITOR = {
    **SCHEDULER_MONITOR,  # noqa: F405
    "ALERT_EVALUATION_INTERVAL": 1,
    "HEARTBEAT_INTERVAL": 1,
    "ALERT_RULES": [{"name": "scheduler_down", "kind": "scheduler_down", "severity": "critical"}],
    "NOTIFICATION_RETRY_DELAYS": [0.5],
    "NOTIFICATION_TIMEOUT": 5,
    "NOTIFICATION_CHANNELS": [
        {
            "name": "receiver",
            "kind": "webhook",
            "target": os.environ["DOWN_WATCH_HOOK"],
            "secret": os.environ["DOWN_WATCH_SECRET"],
        }
    ],
    "WEB_SCHEDULER_DOWN_WATCH": os.environ.get("DOWN_WATCH_ON", "1") == "1",
}
