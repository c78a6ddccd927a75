"""System checks: each names the bad setting and is silent for the good one."""

import sqlite3

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.utils import ConnectionHandler
from django.test import override_settings

from scheduler_monitor import checks

DEMO_MIDDLEWARE_WITHOUT_LOCALE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]


def ids(messages):
    return [m.id for m in messages]


def test_use_tz_false_is_an_error_naming_the_setting():
    with override_settings(USE_TZ=False):
        (message,) = checks.check_use_tz()
        assert message.id == "scheduler_monitor.E001"
        assert "USE_TZ" in message.msg and message.hint == "Set USE_TZ = True."
        with pytest.raises(ImproperlyConfigured, match="USE_TZ"):
            checks.require_use_tz()
    assert checks.check_use_tz() == []
    checks.require_use_tz()


def test_a_scheduler_refuses_to_start_without_use_tz(db):
    from scheduler_monitor.models import SchedulerInstance
    from scheduler_monitor.scheduler import SchedulerProcess

    with override_settings(USE_TZ=False), pytest.raises(ImproperlyConfigured, match="USE_TZ"):
        SchedulerProcess().prepare()
    assert not SchedulerInstance.objects.exists()


def test_a_missing_required_app_is_an_error_naming_it(settings):
    apps = [a for a in settings.INSTALLED_APPS if a != "django_apscheduler"]
    with override_settings(INSTALLED_APPS=apps):
        messages = checks.check_required_apps()
    assert ids(messages) == ["scheduler_monitor.E002"]
    assert "'django_apscheduler'" in messages[0].msg
    assert checks.check_required_apps() == []


def test_the_schema_check_names_the_missing_schema_class(settings):
    rest = {k: v for k, v in settings.REST_FRAMEWORK.items() if k != "DEFAULT_SCHEMA_CLASS"}
    with override_settings(REST_FRAMEWORK=rest):
        (message,) = checks.check_schema()
    assert message.id == "scheduler_monitor.W003"
    assert "DEFAULT_SCHEMA_CLASS" in message.msg and "drf_spectacular" in message.hint
    apps = [a for a in settings.INSTALLED_APPS if a != "drf_spectacular"]
    with override_settings(INSTALLED_APPS=apps):
        (message,) = checks.check_schema()
    assert "'drf_spectacular' is not in INSTALLED_APPS" in message.msg
    assert checks.check_schema() == []


def test_without_the_schema_settings_the_schema_route_is_a_501_envelope(client, settings):
    rest = {k: v for k, v in settings.REST_FRAMEWORK.items() if k != "DEFAULT_SCHEMA_CLASS"}
    with override_settings(REST_FRAMEWORK=rest):
        response = client.get("/api/v1/schema/")
    assert response.status_code == 501
    body = response.json()
    assert body["code"] == 501 and "DEFAULT_SCHEMA_CLASS" in body["message"]
    assert body["data"] is None


def test_a_missing_locale_middleware_is_an_info_hint():
    with override_settings(MIDDLEWARE=DEMO_MIDDLEWARE_WITHOUT_LOCALE):
        (message,) = checks.check_locale_middleware()
    assert message.id == "scheduler_monitor.I004" and message.level == 20  # INFO
    assert "LocaleMiddleware" in message.hint
    assert checks.check_locale_middleware() == []


def test_another_apps_runapscheduler_is_reported_with_the_fix(settings):
    from django.core.management import get_commands

    apps = ["tests.dropin.hostapp", *settings.INSTALLED_APPS]
    with override_settings(INSTALLED_APPS=apps):
        get_commands.cache_clear()
        try:
            (message,) = checks.check_runapscheduler_command()
        finally:
            get_commands.cache_clear()
    assert message.id == "scheduler_monitor.W005"
    assert "'tests.dropin.hostapp'" in message.msg and "instrument(scheduler)" in message.hint
    assert checks.check_runapscheduler_command() == []


def test_a_hosts_runapscheduler_hidden_by_ours_is_reported(settings):
    from django.core.management import get_commands

    apps = [*settings.INSTALLED_APPS, "tests.dropin.hostapp"]
    with override_settings(INSTALLED_APPS=apps):
        get_commands.cache_clear()
        try:
            (message,) = checks.check_runapscheduler_command()
        finally:
            get_commands.cache_clear()
    assert message.id == "scheduler_monitor.W007"
    assert "'tests.dropin.hostapp'" in message.msg and "before 'scheduler_monitor'" in message.hint


def sqlite_connections(path, options=None):
    return ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), **options}}
    )


def test_an_sqlite_database_without_wal_or_busy_timeout_is_reported(
    tmp_path, settings, django_db_blocker
):
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "SQLITE_TUNING": False}
    path = tmp_path / "host.sqlite3"
    sqlite3.connect(path).close()
    connections = sqlite_connections(path, {"OPTIONS": {"timeout": 1}})
    try:
        with django_db_blocker.unblock():
            (message,) = checks.check_sqlite(databases=["default"], connections=connections)
    finally:
        connections.close_all()
    assert message.id == "scheduler_monitor.W006"
    assert "journal_mode is 'delete'" in message.msg and "busy_timeout is 1000 ms" in message.msg


def test_the_app_tunes_a_default_sqlite_database_so_the_check_is_silent(
    tmp_path, django_db_blocker
):
    """startproject's SQLite settings (no OPTIONS): WAL and the busy timeout come from us."""
    path = tmp_path / "host.sqlite3"
    connections = sqlite_connections(path, {})
    try:
        with django_db_blocker.unblock():
            assert checks.check_sqlite(databases=["default"], connections=connections) == []
            assert checks.sqlite_settings_of(connections["default"]) == ("wal", 20000)
            # Writers take the lock at BEGIN: no instant "locked" on a read-then-write.
            assert connections["default"].transaction_mode == "IMMEDIATE"
    finally:
        connections.close_all()
