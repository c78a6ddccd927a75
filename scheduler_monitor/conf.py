"""The app's settings: one ``SCHEDULER_MONITOR`` dict in the project settings.

Every key, its default and what it means:

=============================  =============================  ===================================
key                            default                        meaning
=============================  =============================  ===================================
HISTORY_SIZE                   1000                           finished runs per job in the window
NOTIFICATION_JOB_ID            "send_alert_notifications"     job shown as the notification chain
ERROR_TEXT_LIMIT               4000                           characters of an error message kept
TRACEBACK_LIMIT                20000                          characters of a traceback kept
JOB_MODULES                    []                             modules that declare monitored jobs
HEARTBEAT_INTERVAL             5                              seconds between scheduler heartbeats
HEARTBEAT_STALE_AFTER          3                              missed heartbeats before "stopped"
TRIGGER_POLL_INTERVAL          2                              seconds between trigger pick-ups
WINDOW_REFRESH_INTERVAL        2                              min seconds between window top-ups
WINDOW_SYNC_OVERLAP            120                            seconds re-read to catch late commits
RECORD_BUFFER_SIZE             10000                          unwritten records kept if DB is down
SHUTDOWN_TIMEOUT               30                             seconds to wait for running jobs
EXECUTOR_THREADS               10                             scheduler worker threads
MISFIRE_GRACE_TIME             30                             seconds a late run may still start
EXECUTION_LOG_MAX_AGE          3600                           seconds of django-apscheduler's log
AUTO_REFRESH_SECONDS           30                             dashboard auto-refresh interval
HEATMAP_ALARM_THRESHOLD        5                              failures per cell marked as alarm
BRIEF_METRICS                  True                           export the brief's ``*_ms`` families
HISTOGRAM_BUCKETS              (0.01 ... 600)                 seconds; duration histogram bounds
METRICS_REQUIRE_TOKEN          False                          require a token on ``/metrics`` too
PRUNE_SCHEDULE                 None                           let the scheduler prune runs, e.g.
                                                              ``{"cron": "17 3 * * *", "days": 30,
                                                              "keep_failures_days": 90,
                                                              "batch_size": 5000}``
OVERDUE_GRACE_FRACTION         0.1                            default grace: this much of the
                                                              job's interval ...
OVERDUE_GRACE_MIN_SECONDS      60                             ... but at least this many seconds
STUCK_P95_FACTOR               5                              default max runtime: k x window p95
STUCK_MIN_SECONDS              60                             ... but at least this many seconds
STUCK_DEFAULT_SECONDS          3600                           max runtime of a job without a p95
=============================  =============================  ===================================
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    "HISTORY_SIZE": 1000,
    "NOTIFICATION_JOB_ID": "send_alert_notifications",
    "ERROR_TEXT_LIMIT": 4000,
    "TRACEBACK_LIMIT": 20000,
    "JOB_MODULES": [],
    "HEARTBEAT_INTERVAL": 5,
    "HEARTBEAT_STALE_AFTER": 3,
    "TRIGGER_POLL_INTERVAL": 2,
    "WINDOW_REFRESH_INTERVAL": 2,
    "WINDOW_SYNC_OVERLAP": 120,
    "RECORD_BUFFER_SIZE": 10000,
    "SHUTDOWN_TIMEOUT": 30,
    "EXECUTOR_THREADS": 10,
    "MISFIRE_GRACE_TIME": 30,
    "EXECUTION_LOG_MAX_AGE": 3600,
    "AUTO_REFRESH_SECONDS": 30,
    "HEATMAP_ALARM_THRESHOLD": 5,
    "BRIEF_METRICS": True,
    "HISTOGRAM_BUCKETS": (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600),
    "METRICS_REQUIRE_TOKEN": False,
    "PRUNE_SCHEDULE": None,
    "OVERDUE_GRACE_FRACTION": 0.1,
    "OVERDUE_GRACE_MIN_SECONDS": 60,
    "STUCK_P95_FACTOR": 5,
    "STUCK_MIN_SECONDS": 60,
    "STUCK_DEFAULT_SECONDS": 3600,
}

POSITIVE_INTS = {
    "HISTORY_SIZE",
    "ERROR_TEXT_LIMIT",
    "TRACEBACK_LIMIT",
    "HEARTBEAT_STALE_AFTER",
    "RECORD_BUFFER_SIZE",
    "EXECUTOR_THREADS",
    "HEATMAP_ALARM_THRESHOLD",
}
POSITIVE_NUMBERS = {
    "OVERDUE_GRACE_FRACTION",
    "STUCK_P95_FACTOR",
    "STUCK_DEFAULT_SECONDS",
    "HEARTBEAT_INTERVAL",
    "TRIGGER_POLL_INTERVAL",
    "SHUTDOWN_TIMEOUT",
    "MISFIRE_GRACE_TIME",
    "EXECUTION_LOG_MAX_AGE",
}
NON_NEGATIVE_NUMBERS = {
    "WINDOW_REFRESH_INTERVAL",
    "WINDOW_SYNC_OVERLAP",
    "AUTO_REFRESH_SECONDS",
    "OVERDUE_GRACE_MIN_SECONDS",
    "STUCK_MIN_SECONDS",
}
BOOLEANS = {"BRIEF_METRICS", "METRICS_REQUIRE_TOKEN"}


def user_settings() -> dict[str, Any]:
    """Return the project's ``SCHEDULER_MONITOR`` dict (empty when unset)."""
    value = getattr(settings, "SCHEDULER_MONITOR", {})
    if not isinstance(value, dict):
        raise ImproperlyConfigured("SCHEDULER_MONITOR must be a dict")
    return value


def get(key: str) -> Any:
    """Return one setting, the project's value over the default."""
    if key not in DEFAULTS:
        raise KeyError(f"Unknown SCHEDULER_MONITOR setting {key!r}")
    return user_settings().get(key, DEFAULTS[key])


def _fail(key: str, why: str, value: Any):
    raise ImproperlyConfigured(f"SCHEDULER_MONITOR[{key!r}] {why}, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate() -> None:
    """Check every key and value; raise ImproperlyConfigured naming the first bad key."""
    values = user_settings()
    for key, value in values.items():
        if key not in DEFAULTS:
            _fail(key, "is not a known setting", value)
        if key in POSITIVE_INTS and not (isinstance(value, int) and not isinstance(value, bool)):
            _fail(key, "must be a positive integer", value)
        if key in POSITIVE_INTS | POSITIVE_NUMBERS and not (_is_number(value) and value > 0):
            _fail(key, "must be a positive number", value)
        if key in NON_NEGATIVE_NUMBERS and not (_is_number(value) and value >= 0):
            _fail(key, "must be a number >= 0", value)
        if key in BOOLEANS and not isinstance(value, bool):
            _fail(key, "must be True or False", value)
    notification = values.get("NOTIFICATION_JOB_ID", DEFAULTS["NOTIFICATION_JOB_ID"])
    if not isinstance(notification, str) or not notification:
        _fail("NOTIFICATION_JOB_ID", "must be a non-empty job id", notification)
    modules = values.get("JOB_MODULES", [])
    if not isinstance(modules, list | tuple) or not all(isinstance(m, str) for m in modules):
        _fail("JOB_MODULES", "must be a list of module paths", modules)
    buckets = values.get("HISTOGRAM_BUCKETS", DEFAULTS["HISTOGRAM_BUCKETS"])
    if (
        not isinstance(buckets, list | tuple)
        or not buckets
        or not all(_is_number(b) and b > 0 for b in buckets)
        or list(buckets) != sorted(set(buckets))
    ):
        _fail("HISTOGRAM_BUCKETS", "must be increasing positive seconds", buckets)
    validate_operations(values)


# --- Operations settings -------------------------------------------------------------------

PRUNE_KEYS = {"cron", "days", "keep_failures_days", "batch_size"}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def validate_operations(values: dict[str, Any]) -> None:
    """Check the retention, overdue, alert and lease settings."""
    prune = values.get("PRUNE_SCHEDULE")
    if prune is not None:
        if not isinstance(prune, dict) or not set(prune) <= PRUNE_KEYS or "days" not in prune:
            _fail(
                "PRUNE_SCHEDULE",
                "must be None or a dict with 'days' (and optional 'cron', "
                "'keep_failures_days', 'batch_size')",
                prune,
            )
        if not _positive_int(prune["days"]):
            _fail("PRUNE_SCHEDULE", "'days' must be a positive integer", prune)
        keep = prune.get("keep_failures_days")
        if keep is not None and not (_positive_int(keep) and keep >= prune["days"]):
            _fail("PRUNE_SCHEDULE", "'keep_failures_days' must be an integer >= 'days'", prune)
        if not _positive_int(prune.get("batch_size", 5000)):
            _fail("PRUNE_SCHEDULE", "'batch_size' must be a positive integer", prune)
        cron = prune.get("cron", "17 3 * * *")
        try:
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(cron)
        except (ValueError, TypeError, AttributeError) as exc:
            _fail("PRUNE_SCHEDULE", f"'cron' is not a crontab expression ({exc})", prune)
