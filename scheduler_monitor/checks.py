"""System checks (``manage.py check``, and at scheduler start): what the app needs of a host.

Each check names the setting and how to fix it. IDs:

- ``scheduler_monitor.E001`` ``USE_TZ`` is False: every run would fail before its code ran.
- ``scheduler_monitor.E002`` an app the monitor needs is not in ``INSTALLED_APPS``.
- ``scheduler_monitor.W003`` the OpenAPI schema needs ``drf_spectacular`` and its
  ``DEFAULT_SCHEMA_CLASS`` (without them ``/api/v1/schema/`` answers 501).
- ``scheduler_monitor.I004`` no ``LocaleMiddleware``: pages are not translated.
- ``scheduler_monitor.W005`` another app's ``runapscheduler`` shadows ours.
- ``scheduler_monitor.W006`` an SQLite database without WAL or a busy timeout.
- ``scheduler_monitor.W007`` another app's ``runapscheduler`` is hidden by ours.
"""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

REQUIRED_APPS = ("django_apscheduler", "rest_framework", "rest_framework.authtoken")
SPECTACULAR_SCHEMA = "drf_spectacular.openapi.AutoSchema"
LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"
MIN_BUSY_TIMEOUT_MS = 5000
USE_TZ_MESSAGE = (
    "USE_TZ is False: scheduler_monitor stores and compares times in UTC and the job store "
    "needs aware datetimes, so every job run would fail before its code runs."
)


def require_use_tz() -> None:
    """Refuse to start a scheduler with ``USE_TZ = False``, naming the setting."""
    if not settings.USE_TZ:
        raise ImproperlyConfigured(f"{USE_TZ_MESSAGE} Set USE_TZ = True in your settings.")


@checks.register()
def check_use_tz(app_configs=None, **kwargs):
    if settings.USE_TZ:
        return []
    return [checks.Error(USE_TZ_MESSAGE, hint="Set USE_TZ = True.", id="scheduler_monitor.E001")]


@checks.register()
def check_required_apps(app_configs=None, **kwargs):
    from django.apps import apps

    return [
        checks.Error(
            f"{app!r} is not in INSTALLED_APPS; scheduler_monitor needs it.",
            hint=f"Add {app!r} to INSTALLED_APPS (before 'scheduler_monitor') and migrate.",
            id="scheduler_monitor.E002",
        )
        for app in REQUIRED_APPS
        if not apps.is_installed(app)
    ]


def schema_problem() -> str:
    """Why the OpenAPI schema cannot be served here ('' when it can)."""
    from django.apps import apps

    if not apps.is_installed("drf_spectacular"):
        return "'drf_spectacular' is not in INSTALLED_APPS"
    configured = getattr(settings, "REST_FRAMEWORK", {}).get("DEFAULT_SCHEMA_CLASS")
    if configured is None:
        return "REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is not set"
    from django.utils.module_loading import import_string
    from drf_spectacular.openapi import AutoSchema

    try:
        schema_class = import_string(configured) if isinstance(configured, str) else configured
    except ImportError:
        return f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] = {configured!r} cannot be imported"
    if not (isinstance(schema_class, type) and issubclass(schema_class, AutoSchema)):
        return f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is {configured!r}"
    return ""


SCHEMA_HINT = (
    f"Add 'drf_spectacular' to INSTALLED_APPS and set "
    f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] = {SPECTACULAR_SCHEMA!r}."
)


@checks.register()
def check_schema(app_configs=None, **kwargs):
    problem = schema_problem()
    if not problem:
        return []
    return [
        checks.Warning(
            f"{problem}: /api/v1/schema/ answers 501 instead of the OpenAPI schema.",
            hint=SCHEMA_HINT,
            id="scheduler_monitor.W003",
        )
    ]


@checks.register()
def check_locale_middleware(app_configs=None, **kwargs):
    if LOCALE_MIDDLEWARE in settings.MIDDLEWARE:
        return []
    return [
        checks.Info(
            "LocaleMiddleware is not in MIDDLEWARE: the dashboard is shown in LANGUAGE_CODE "
            "only, not in each browser's language (e.g. Simplified Chinese).",
            hint=f"Add {LOCALE_MIDDLEWARE!r} after SessionMiddleware and before CommonMiddleware.",
            id="scheduler_monitor.I004",
        )
    ]


@checks.register()
def check_runapscheduler_command(app_configs=None, **kwargs):
    from django.core.management import get_commands

    owner = get_commands().get("runapscheduler")
    if owner == "scheduler_monitor":
        hidden = [app for app in apps_with_command("runapscheduler") if app != owner]
        return [
            checks.Warning(
                f"The app {app!r} has a runapscheduler command, but scheduler_monitor's "
                "(listed before it) is the one `manage.py runapscheduler` runs.",
                hint=(
                    f"To keep your own scheduler command, list {app!r} before "
                    "'scheduler_monitor' in INSTALLED_APPS and call "
                    "scheduler_monitor.instrument(scheduler) in it; otherwise remove it."
                ),
                id="scheduler_monitor.W007",
            )
            for app in hidden
        ]
    if owner is None:
        return []
    return [
        checks.Warning(
            f"The app {owner!r} has a runapscheduler command that shadows scheduler_monitor's: "
            "`manage.py runapscheduler` runs that one, and its runs are recorded only if it "
            "calls scheduler_monitor.instrument(scheduler).",
            hint=(
                "Call scheduler_monitor.instrument(scheduler) in that command before "
                "scheduler.start() and silence this warning with SILENCED_SYSTEM_CHECKS = "
                "['scheduler_monitor.W005'], or rename or remove that command (or list "
                "'scheduler_monitor' before that app in INSTALLED_APPS) to use ours."
            ),
            id="scheduler_monitor.W005",
        )
    ]


def apps_with_command(name: str) -> list[str]:
    """Every installed app that ships a management command called ``name``."""
    import os

    from django.apps import apps
    from django.core.management import find_commands

    return [
        config.name
        for config in apps.get_app_configs()
        if name in find_commands(os.path.join(config.path, "management"))
    ]


def sqlite_settings_of(connection) -> tuple[str, int]:
    """The journal mode and busy timeout (ms) a new connection of this database gets."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = str(cursor.fetchone()[0]).lower()
        cursor.execute("PRAGMA busy_timeout")
        timeout = int(cursor.fetchone()[0])
    return journal, timeout


@checks.register()
def check_sqlite(app_configs=None, databases=None, connections=None, **kwargs):
    """SQLite databases in WAL mode with a busy timeout (the app sets both itself).

    Not tagged ``database`` (those run only with ``check --database``): opening an SQLite
    file is cheap, and other engines are not connected to.
    """
    if connections is None:
        from django.db import connections
    messages = []
    for alias in databases or list(connections.settings):
        connection = connections[alias]
        if connection.vendor != "sqlite" or connection.is_in_memory_db():
            continue
        journal, timeout = sqlite_settings_of(connection)
        problems = []
        if journal != "wal":
            problems.append(f"journal_mode is {journal!r}, not 'wal'")
        if timeout < MIN_BUSY_TIMEOUT_MS:
            problems.append(f"busy_timeout is {timeout} ms")
        if problems:
            messages.append(
                checks.Warning(
                    f"SQLite database {alias!r}: {' and '.join(problems)}; the scheduler and "
                    "the web server writing at once will fail with 'database is locked'.",
                    hint=(
                        "Leave SCHEDULER_MONITOR['SQLITE_TUNING'] on (the default) so the app "
                        "sets WAL and a 20 s busy timeout on each connection, or set "
                        "DATABASES[...]['OPTIONS'] = {'timeout': 20, 'init_command': "
                        "'PRAGMA journal_mode=WAL;'}; check that the database's directory "
                        "is writable (WAL needs it)."
                    ),
                    id="scheduler_monitor.W006",
                )
            )
    return messages
