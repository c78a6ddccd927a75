"""Run manage.py commands as real subprocesses against the test database."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def database_url_of_tests() -> str:
    """The DATABASE_URL of the database this test run uses (the test database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{db['NAME']}"


def manage_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_of_tests(),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE=env.get("SUBPROCESS_SETTINGS", "tests.subprocess_settings"),
    )
    env.update(extra)
    return env


def start_manage(*args: str, log_path: Path, **env: str) -> subprocess.Popen:
    """Start ``manage.py <args>``; output goes to ``log_path``."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the caller via stop()
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=manage_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.2):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
