"""Settings are validated at start-up and a bad value names its key."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from scheduler_monitor import conf


def test_defaults_apply_when_the_project_sets_nothing(settings):
    settings.SCHEDULER_MONITOR = {}
    assert conf.get("HISTORY_SIZE") == 1000
    assert conf.get("NOTIFICATION_JOB_ID") == "send_alert_notifications"


def test_project_values_override_defaults(settings):
    settings.SCHEDULER_MONITOR = {"HISTORY_SIZE": 50}
    assert conf.get("HISTORY_SIZE") == 50


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HISTORY_SIZE", 0),
        ("HISTORY_SIZE", "1000"),
        ("HISTORY_SIZE", True),
        ("HEARTBEAT_INTERVAL", -1),
        ("WINDOW_SYNC_OVERLAP", -5),
        ("NOTIFICATION_JOB_ID", ""),
        ("JOB_MODULES", "project.demo_jobs"),
        ("HISTOGRAM_BUCKETS", [1, 0.5]),
        ("BRIEF_METRICS", "yes"),
        ("NO_SUCH_SETTING", 1),
        ("AUDIT_TRUSTED_PROXIES", -1),
        ("AUDIT_TRUSTED_PROXIES", 1.5),
        ("DEFAULT_TIMEOUT_SECONDS", 0),
        ("DEFAULT_TIMEOUT_SECONDS", "60"),
        ("PROCESS_KILL_GRACE_SECONDS", -1),
    ],
)
def test_a_bad_value_raises_improperly_configured_naming_the_key(settings, key, value):
    with pytest.raises(ImproperlyConfigured, match=key):
        settings.SCHEDULER_MONITOR = {key: value}
    settings.SCHEDULER_MONITOR = {}


def test_a_non_dict_setting_is_refused(settings):
    with pytest.raises(ImproperlyConfigured, match="must be a dict"):
        settings.SCHEDULER_MONITOR = ["HISTORY_SIZE"]
    settings.SCHEDULER_MONITOR = {}
