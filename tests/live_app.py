"""Serve the project with a real gunicorn against the test database, for end-to-end tests."""

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from tests.external import require_binary

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """DATABASE_URL of the database this test runs against (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def http_get(url: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.2):
    """Poll ``predicate`` until it returns a truthy value; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError as exc:  # not listening yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} ({last_error})")


@contextlib.contextmanager
def served(process: subprocess.Popen, *, what: str, ready_url: str, read_log, ready=(200, 401)):
    """Wait until ``ready_url`` answers one of ``ready``; stop ``process`` (and wait) after.

    A process that exits meanwhile fails the test with the end of ``read_log()``.
    """
    try:

        def is_ready():
            if process.poll() is not None:
                raise AssertionError(f"{what} exited: {read_log()[-3000:]}")
            return http_get(ready_url, timeout=2)[0] in ready

        wait_until(is_ready, timeout=30, what=f"{what} to answer {ready_url}")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def gunicorn_app(*, workers: int = 1, env: dict | None = None, extra_args=(), log_path=None):
    """Run gunicorn on a free port; yield its base URL; stop it (and wait) afterwards.

    ``log_path``: write gunicorn's stderr there (for the test to show), else a temporary file.
    """
    gunicorn = require_binary("gunicorn")
    port = free_port()
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": test_database_url(),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    # Outlives this block, closed in finally.
    log = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        [
            gunicorn,
            "project.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--config",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            *extra_args,
        ],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"

    def read_log() -> str:
        log.seek(0)
        return log.read().decode()

    try:
        with served(process, what="gunicorn", ready_url=f"{base}/metrics", read_log=read_log):
            yield base
    finally:
        log.close()
        connection.close()
