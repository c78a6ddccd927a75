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
JOBS                           {}                             name/owner/category/description of
                                                              jobs not declared in code, by id:
                                                              ``{"job_id": {"owner": "SRE"}}``
HEARTBEAT_INTERVAL             5                              seconds between scheduler heartbeats
HEARTBEAT_STALE_AFTER          3                              missed heartbeats before "stopped"
TRIGGER_POLL_INTERVAL          2                              seconds between trigger pick-ups
WINDOW_REFRESH_INTERVAL        2                              min seconds between window top-ups
WINDOW_SYNC_OVERLAP            120                            seconds re-read to catch late commits
RECORD_BUFFER_SIZE             10000                          unwritten records kept if DB is down
SHUTDOWN_TIMEOUT               30                             seconds to wait for running jobs
EXECUTOR_THREADS               10                             scheduler worker threads
MANUAL_EXECUTOR_THREADS        2                              worker threads of manual runs
MANUAL_MAX_PER_JOB             5                              manual runs of one job queued or
                                                              running at once (more: HTTP 429)
MANUAL_MAX_TOTAL               20                             ... of all jobs together
MISFIRE_GRACE_TIME             30                             seconds a late run may still start
DJANGO_APSCHEDULER_EXECUTIONS  False                          also fill django-apscheduler's
                                                              DjangoJobExecution log (a 2nd
                                                              write per run; JobRun has it all)
EXECUTION_LOG_MAX_AGE          3600                           seconds of that log kept
AUTO_REFRESH_SECONDS           30                             dashboard auto-refresh interval
HEATMAP_ALARM_THRESHOLD        5                              failures per cell marked as alarm
BRIEF_METRICS                  True                           export the brief's ``*_ms`` gauges
HISTOGRAM_BUCKETS              (0.01 ... 600)                 seconds; duration histogram bounds
METRICS_PUBLIC                 False                          serve ``/metrics`` without a token
METRICS_REQUIRE_TOKEN          (unset)                        deprecated: ``not METRICS_PUBLIC``
SCHEMA_PUBLIC                  False                          serve the OpenAPI schema to anyone
SQLITE_TUNING                  True                           put SQLite connections in WAL mode
                                                              with a busy timeout of at least
                                                              SQLITE_BUSY_TIMEOUT seconds
SQLITE_BUSY_TIMEOUT            20                             seconds an SQLite writer waits
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
ALERT_RULES                    DEFAULT_ALERT_RULES (below)    rules ``check_scheduler_alerts``
                                                              and ``firing_alerts()`` evaluate
AUDIT_TRUSTED_PROXIES          0                              reverse proxies whose
                                                              X-Forwarded-For the audit trusts
DEFAULT_TIMEOUT_SECONDS        None                           run time limit of jobs without one
PROCESS_KILL_GRACE_SECONDS     5                              SIGTERM to SIGKILL, timed-out child
ALERT_EVALUATION_INTERVAL      15                             seconds between the active
                                                              scheduler's incident evaluations
FLAPPING_THRESHOLD             5                              flips per hour of one key above
                                                              which one "flapping" notice goes
                                                              out instead of a message per flip
BASE_URL                       ""                             site root for links in messages,
                                                              e.g. ``"https://ops.example.com"``
NOTIFICATION_CHANNELS          []                             channels declared in settings
                                                              (see ``NOTIFICATION_CHANNEL_KEYS``)
NOTIFICATION_RETRY_DELAYS      (30, 120)                      seconds before the 2nd, 3rd ...
                                                              try; a message is tried
                                                              ``len + 1`` times
NOTIFICATION_TIMEOUT           10                             seconds per delivery try
WEB_SCHEDULER_DOWN_WATCH       True                           web processes open the scheduler-
                                                              down incident and send it while
                                                              no scheduler is alive
=============================  =============================  ===================================

Alert rules: a list of dicts, each with a unique ``name``, a ``kind``, a ``severity``
(``"warning"`` or ``"critical"``), optional ``jobs`` / ``categories`` lists that limit it,
and the kind's parameters (defaults in ``ALERT_KIND_PARAMS``):

- ``failure_ratio``: failed / finished runs over ``window_minutes`` above ``threshold``
  (0..1), once the window holds at least ``min_runs`` runs.
- ``consecutive_failures``: the job's last ``count`` runs all failed.
- ``p95``: the p95 of the runs over ``window_minutes`` (at least ``min_samples``) above
  ``threshold_ms``, or above ``factor`` times the job's own p95 over the ``baseline_hours``
  before that window (give one or both). Both are read from the rolling window (the job's
  last ``HISTORY_SIZE`` runs), not the run table, so evaluating costs the same at any run
  rate: a job that runs more often than ``HISTORY_SIZE`` times per ``baseline_hours``
  gets a baseline as long as those runs reach back (e.g. ~15.7 h of the 24 h for a job
  running every minute), and the baseline is reused for about 5 minutes.
- ``overdue``: the job's next run is past due by more than its grace.
- ``stuck``: a run is still running past the job's max runtime.
- ``timed_out``: the job's last run, within ``window_minutes``, passed its time limit.
- ``scheduler_down``: no scheduler has a fresh heartbeat.

Every rule also takes ``resolve_after`` (quiet evaluations before its incident resolves,
default 2) and ``realert_interval`` (seconds after which a still-open incident sends a
reminder; default None: no reminders).
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from scheduler_monitor.notification_settings import DEFAULT_RETRY_DELAYS, validate_notifications

DEFAULTS: dict[str, Any] = {
    "HISTORY_SIZE": 1000,
    "NOTIFICATION_JOB_ID": "send_alert_notifications",
    "ERROR_TEXT_LIMIT": 4000,
    "TRACEBACK_LIMIT": 20000,
    "JOB_MODULES": [],
    "JOBS": {},
    "HEARTBEAT_INTERVAL": 5,
    "HEARTBEAT_STALE_AFTER": 3,
    "TRIGGER_POLL_INTERVAL": 2,
    "WINDOW_REFRESH_INTERVAL": 2,
    "WINDOW_SYNC_OVERLAP": 120,
    "RECORD_BUFFER_SIZE": 10000,
    "SHUTDOWN_TIMEOUT": 30,
    "EXECUTOR_THREADS": 10,
    "MANUAL_EXECUTOR_THREADS": 2,
    "MANUAL_MAX_PER_JOB": 5,
    "MANUAL_MAX_TOTAL": 20,
    "MISFIRE_GRACE_TIME": 30,
    "DJANGO_APSCHEDULER_EXECUTIONS": False,
    "EXECUTION_LOG_MAX_AGE": 3600,
    "AUTO_REFRESH_SECONDS": 30,
    "HEATMAP_ALARM_THRESHOLD": 5,
    "BRIEF_METRICS": True,
    "HISTOGRAM_BUCKETS": (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600),
    "METRICS_PUBLIC": False,
    "METRICS_REQUIRE_TOKEN": None,  # deprecated alias: True = METRICS_PUBLIC False
    "SCHEMA_PUBLIC": False,
    "SQLITE_TUNING": True,
    "SQLITE_BUSY_TIMEOUT": 20,
    "PRUNE_SCHEDULE": None,
    "OVERDUE_GRACE_FRACTION": 0.1,
    "OVERDUE_GRACE_MIN_SECONDS": 60,
    "STUCK_P95_FACTOR": 5,
    "STUCK_MIN_SECONDS": 60,
    "STUCK_DEFAULT_SECONDS": 3600,
    "ALERT_RULES": None,  # None: DEFAULT_ALERT_RULES
    "AUDIT_TRUSTED_PROXIES": 0,
    "DEFAULT_TIMEOUT_SECONDS": None,
    "PROCESS_KILL_GRACE_SECONDS": 5,
    "ALERT_EVALUATION_INTERVAL": 15,
    "FLAPPING_THRESHOLD": 5,
    "BASE_URL": "",
    "NOTIFICATION_CHANNELS": [],
    "NOTIFICATION_RETRY_DELAYS": DEFAULT_RETRY_DELAYS,
    "NOTIFICATION_TIMEOUT": 10,
    "WEB_SCHEDULER_DOWN_WATCH": True,
}

DEFAULT_ALERT_RULES = [
    {"name": "failure_ratio", "kind": "failure_ratio", "severity": "warning"},
    {"name": "failing_repeatedly", "kind": "consecutive_failures", "severity": "critical"},
    {"name": "slow_p95", "kind": "p95", "factor": 3, "severity": "warning"},
    {"name": "overdue", "kind": "overdue", "severity": "warning"},
    {"name": "stuck_run", "kind": "stuck", "severity": "warning"},
    {"name": "timed_out", "kind": "timed_out", "severity": "warning"},
    {"name": "scheduler_down", "kind": "scheduler_down", "severity": "critical"},
]
ALERT_SEVERITIES = ("warning", "critical")
# Each kind's parameters and their defaults (None: optional, no default).
ALERT_KIND_PARAMS: dict[str, dict[str, Any]] = {
    "failure_ratio": {"window_minutes": 60, "threshold": 0.5, "min_runs": 4},
    "consecutive_failures": {"count": 3},
    "p95": {
        "window_minutes": 60,
        "min_samples": 5,
        "threshold_ms": None,
        "factor": None,
        "baseline_hours": 24,
    },
    "overdue": {},
    "stuck": {},
    "timed_out": {"window_minutes": 60},
    "scheduler_down": {},
}
ALERT_COMMON_KEYS = {"name", "kind", "severity", "jobs", "categories"}
# Incident keys every rule takes, with their defaults.
INCIDENT_RULE_PARAMS: dict[str, Any] = {"resolve_after": 2, "realert_interval": None}

POSITIVE_INTS = {
    "HISTORY_SIZE",
    "ERROR_TEXT_LIMIT",
    "TRACEBACK_LIMIT",
    "HEARTBEAT_STALE_AFTER",
    "RECORD_BUFFER_SIZE",
    "EXECUTOR_THREADS",
    "MANUAL_EXECUTOR_THREADS",
    "MANUAL_MAX_PER_JOB",
    "MANUAL_MAX_TOTAL",
    "HEATMAP_ALARM_THRESHOLD",
    "FLAPPING_THRESHOLD",
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
    "ALERT_EVALUATION_INTERVAL",
    "NOTIFICATION_TIMEOUT",
    "SQLITE_BUSY_TIMEOUT",
}
NON_NEGATIVE_NUMBERS = {
    "WINDOW_REFRESH_INTERVAL",
    "WINDOW_SYNC_OVERLAP",
    "AUTO_REFRESH_SECONDS",
    "OVERDUE_GRACE_MIN_SECONDS",
    "STUCK_MIN_SECONDS",
    "AUDIT_TRUSTED_PROXIES",
}
BOOLEANS = {
    "BRIEF_METRICS",
    "METRICS_PUBLIC",
    "METRICS_REQUIRE_TOKEN",
    "SCHEMA_PUBLIC",
    "SQLITE_TUNING",
    "DJANGO_APSCHEDULER_EXECUTIONS",
    "WEB_SCHEDULER_DOWN_WATCH",
}


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


def metrics_public() -> bool:
    """Whether ``/metrics`` answers without a token (off unless the project opens it)."""
    values = user_settings()
    if "METRICS_PUBLIC" not in values and values.get("METRICS_REQUIRE_TOKEN") is not None:
        return not values["METRICS_REQUIRE_TOKEN"]  # the older setting, still honoured
    return bool(get("METRICS_PUBLIC"))


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
    if not _positive_int(values.get("AUDIT_TRUSTED_PROXIES", 1) or 1):
        _fail("AUDIT_TRUSTED_PROXIES", "must be an integer >= 0", values["AUDIT_TRUSTED_PROXIES"])
    timeout = values.get("DEFAULT_TIMEOUT_SECONDS")
    if timeout is not None and not (_is_number(timeout) and timeout > 0):
        _fail("DEFAULT_TIMEOUT_SECONDS", "must be None or a positive number", timeout)
    grace = values.get("PROCESS_KILL_GRACE_SECONDS", 5)
    if not (_is_number(grace) and grace >= 0):
        _fail("PROCESS_KILL_GRACE_SECONDS", "must be a number >= 0", grace)
    notification = values.get("NOTIFICATION_JOB_ID", DEFAULTS["NOTIFICATION_JOB_ID"])
    if not isinstance(notification, str) or not notification:
        _fail("NOTIFICATION_JOB_ID", "must be a non-empty job id", notification)
    modules = values.get("JOB_MODULES", [])
    if not isinstance(modules, list | tuple) or not all(isinstance(m, str) for m in modules):
        _fail("JOB_MODULES", "must be a list of module paths", modules)
    _validate_jobs(values.get("JOBS", {}))
    buckets = values.get("HISTOGRAM_BUCKETS", DEFAULTS["HISTOGRAM_BUCKETS"])
    if (
        not isinstance(buckets, list | tuple)
        or not buckets
        or not all(_is_number(b) and b > 0 for b in buckets)
        or list(buckets) != sorted(set(buckets))
    ):
        _fail("HISTOGRAM_BUCKETS", "must be increasing positive seconds", buckets)
    per_job = values.get("MANUAL_MAX_PER_JOB", DEFAULTS["MANUAL_MAX_PER_JOB"])
    total = values.get("MANUAL_MAX_TOTAL", DEFAULTS["MANUAL_MAX_TOTAL"])
    if per_job > total:
        _fail("MANUAL_MAX_PER_JOB", f"must not exceed MANUAL_MAX_TOTAL ({total})", per_job)
    validate_operations(values)


JOB_KEYS = {"name", "owner", "category", "description"}


def _validate_jobs(jobs: Any) -> None:
    if not isinstance(jobs, dict):
        _fail("JOBS", "must be a dict of job id -> {name, owner, category, description}", jobs)
    for job_id, fields in jobs.items():
        if not isinstance(job_id, str) or not job_id:
            _fail("JOBS", "keys must be job ids", job_id)
        if not isinstance(fields, dict) or not set(fields) <= JOB_KEYS:
            _fail(
                "JOBS", f"{job_id!r} must map to a dict with keys among {sorted(JOB_KEYS)}", fields
            )
        for key, value in fields.items():
            if not isinstance(value, str) or (key == "name" and not value):
                _fail("JOBS", f"{job_id!r}: {key} must be a string", value)
            if key != "description" and len(value) > 200:
                _fail("JOBS", f"{job_id!r}: {key} is longer than 200 characters", value)


# --- Operations settings -------------------------------------------------------------------

PRUNE_KEYS = {"cron", "days", "keep_failures_days", "batch_size"}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def alert_rules(rules: list[dict] | None = None) -> list[dict[str, Any]]:
    """The given (checked) or configured alert rules, each completed with its kind's defaults."""
    if rules is not None:
        _validate_alert_rules(rules)
    else:
        rules = get("ALERT_RULES")
        rules = DEFAULT_ALERT_RULES if rules is None else rules
    return [{**INCIDENT_RULE_PARAMS, **ALERT_KIND_PARAMS[rule["kind"]], **rule} for rule in rules]


def _validate_alert_rules(rules: Any) -> None:
    if not isinstance(rules, list | tuple):
        _fail("ALERT_RULES", "must be a list of rule dicts", rules)
    names = set()
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("kind") not in ALERT_KIND_PARAMS:
            _fail("ALERT_RULES", f"each rule needs a kind among {sorted(ALERT_KIND_PARAMS)}", rule)
        name = rule.get("name")
        if not isinstance(name, str) or not name or name in names:
            _fail("ALERT_RULES", "each rule needs a unique non-empty name", rule)
        names.add(name)
        if rule.get("severity") not in ALERT_SEVERITIES:
            _fail("ALERT_RULES", f"rule {name!r} needs a severity among {ALERT_SEVERITIES}", rule)
        params = ALERT_KIND_PARAMS[rule["kind"]]
        unknown = set(rule) - ALERT_COMMON_KEYS - set(INCIDENT_RULE_PARAMS) - set(params)
        if unknown:
            _fail("ALERT_RULES", f"rule {name!r} has unknown keys {sorted(unknown)}", rule)
        for key in ("jobs", "categories"):
            if key in rule and not (
                isinstance(rule[key], list | tuple) and all(isinstance(v, str) for v in rule[key])
            ):
                _fail("ALERT_RULES", f"rule {name!r}: {key} must be a list of strings", rule)
        for key in params:
            value = rule.get(key, params[key])
            if value is None:
                continue
            if not (_is_number(value) and value > 0):
                _fail("ALERT_RULES", f"rule {name!r}: {key} must be a positive number", rule)
        if rule["kind"] == "failure_ratio" and rule.get("threshold", 0.5) >= 1:
            _fail("ALERT_RULES", f"rule {name!r}: threshold is a ratio below 1", rule)
        if rule["kind"] == "p95" and rule.get("threshold_ms") is None and not rule.get("factor"):
            _fail("ALERT_RULES", f"rule {name!r}: give threshold_ms or factor", rule)
        realert = rule.get("realert_interval")
        if realert is not None and not (_is_number(realert) and realert > 0):
            _fail("ALERT_RULES", f"rule {name!r}: realert_interval must be seconds > 0", rule)
        for key in ("count", "min_runs", "min_samples", "resolve_after"):
            if key in rule and not _positive_int(rule[key]):
                _fail("ALERT_RULES", f"rule {name!r}: {key} must be a positive integer", rule)


def validate_operations(values: dict[str, Any]) -> None:
    """Check the retention, overdue, alert, notification and lease settings."""
    if values.get("ALERT_RULES") is not None:
        _validate_alert_rules(values["ALERT_RULES"])
    validate_notifications(values, _fail)
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
