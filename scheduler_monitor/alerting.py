"""The active scheduler's alerting: incident evaluation and the outbox sender, in threads.

Separate from the maintenance thread, so a slow evaluation or a slow receiver never
delays the heartbeat (and the lease) or the trigger pick-up; and from each other, so a
receiver that hangs for its whole timeout never delays an evaluation.
"""

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections

from scheduler_monitor import conf
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.notification_channels import notification_channels_sync
from scheduler_monitor.outbox import OutboxSender
from scheduler_monitor.recording import DB_ERRORS

logger = logging.getLogger(__name__)


class AlertingThreads:
    """Evaluate every ALERT_EVALUATION_INTERVAL seconds while active; send in between."""

    def __init__(self, *, stop: threading.Event, is_active: Callable[[], bool]):
        self._stop = stop
        self._is_active = is_active
        self._evaluator: threading.Thread | None = None
        self.sender = OutboxSender()

    def start(self) -> None:
        """Sync the settings' channels, then start both threads (once)."""
        if self._evaluator is not None:
            return
        try:
            notification_channels_sync()
        except DB_ERRORS as exc:
            logger.warning("Could not sync NOTIFICATION_CHANNELS (will use the stored): %s", exc)
        self._evaluator = threading.Thread(
            target=self._evaluation_loop, name="scheduler-monitor-incidents", daemon=True
        )
        self._evaluator.start()
        self.sender.start()

    def join(self, timeout: float = 5) -> None:
        """Wait for both threads after the stop event was set."""
        if self._evaluator is not None:
            self._evaluator.join(timeout)
        self.sender.stop(timeout)

    def _evaluation_loop(self) -> None:
        """Evaluate the alert rules into incidents, only while this scheduler holds the lease."""
        interval = conf.get("ALERT_EVALUATION_INTERVAL")
        while not self._stop.wait(interval):
            if not self._is_active():
                continue
            try:
                close_old_connections()
                if incidents_evaluate().messages:
                    self.sender.wake()
            except DB_ERRORS as exc:
                logger.warning("Incident evaluation failed, will retry: %s", exc)
                close_old_connections()
            except Exception:  # noqa: BLE001 - the loop must outlive any single bad evaluation
                logger.exception("Incident evaluation failed")
        close_old_connections()
