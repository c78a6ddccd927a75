"""The scheduler-down incident, watched from the web process: a dead scheduler cannot open it.

The active scheduler evaluates every rule, this one included, and so resolves the incident
once it is back. While no scheduler is alive, a thread in each web process (started by its
first request) checks the scheduler-down rules every ALERT_EVALUATION_INTERVAL seconds, opens
or keeps the incident through the incidents table (one per key, however many processes
check), and delivers the outbox, which the dead scheduler's sender no longer drains.
``check_scheduler_alerts --notify`` does the same once, for a cron job.

Off with ``SCHEDULER_MONITOR["WEB_SCHEDULER_DOWN_WATCH"] = False``.
"""

import logging
import threading

from django.db import close_old_connections

from scheduler_monitor import conf
from scheduler_monitor.alert_rules import firing_alerts
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.notification_channels import notification_channels_sync
from scheduler_monitor.outbox import outbox_drain
from scheduler_monitor.recording import DB_ERRORS

logger = logging.getLogger(__name__)

_started = threading.Event()
_start_lock = threading.Lock()


def scheduler_down_rules() -> list[dict]:
    return [rule for rule in conf.alert_rules() if rule["kind"] == "scheduler_down"]


def scheduler_down_notify() -> bool:
    """Open or keep the scheduler-down incident while it fires, then send; True when firing.

    Resolving is left to the scheduler once it is back (or to ``--notify`` runs): an
    evaluation here while the rule is quiet would count towards ``resolve_after`` twice.
    """
    rules = scheduler_down_rules()
    if not rules:
        return False
    firing = firing_alerts(rules=rules, jobs=[])
    if not firing:
        return False
    notification_channels_sync()  # the dead scheduler may never have synced them
    incidents_evaluate(rules=rules, alerts=firing)
    outbox_drain()
    return True


def scheduler_down_evaluate() -> None:
    """Evaluate the scheduler-down rules into incidents, firing or quiet (open or resolve), send."""
    notification_channels_sync()
    rules = scheduler_down_rules()
    if rules:
        incidents_evaluate(rules=rules, alerts=firing_alerts(rules=rules, jobs=[]))
    outbox_drain()


def _watch_loop() -> None:
    interval = conf.get("ALERT_EVALUATION_INTERVAL")
    stop = threading.Event()  # never set: the thread is a daemon and ends with the process
    while not stop.wait(interval):
        try:
            close_old_connections()
            scheduler_down_notify()
        except DB_ERRORS as exc:
            logger.warning("Scheduler-down check failed, will retry: %s", exc)
        except Exception:  # noqa: BLE001 - the watch must outlive any single bad check
            logger.exception("Scheduler-down check failed")
        finally:
            close_old_connections()


def watch_start(sender=None, **_kwargs) -> None:
    """Start this process's watch thread once (a ``request_started`` receiver).

    Only for a real server's requests: the test client's (a host project's test suite) would
    leave a thread writing to the test database outside the tests' transactions.
    """
    if _started.is_set() or not conf.get("WEB_SCHEDULER_DOWN_WATCH"):
        return
    if getattr(sender, "__module__", "").startswith("django.test"):
        return
    with _start_lock:
        if _started.is_set():
            return
        _started.set()
        threading.Thread(
            target=_watch_loop, name="scheduler-monitor-down-watch", daemon=True
        ).start()
