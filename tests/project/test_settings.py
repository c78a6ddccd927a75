"""The demo project's settings come from the environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from project import settings as project_settings

ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_is_the_default_with_wal_and_a_busy_timeout(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = project_settings.database_from_env()
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert str(config["NAME"]).endswith("db.sqlite3")
    assert config["OPTIONS"]["timeout"] >= 5
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_a_postgres_url_selects_postgresql(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5433/mon")
    config = project_settings.database_from_env()
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["HOST"], config["PORT"]) == (
        "mon",
        "u",
        "db.example",
        5433,
    )


@pytest.mark.django_db
def test_the_sqlite_test_database_really_runs_in_wal_mode():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


@pytest.mark.parametrize("raw", ["maybe", "2"])
def test_an_ambiguous_boolean_is_refused(monkeypatch, raw):
    monkeypatch.setenv("DEBUG", raw)
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false"):
        project_settings.env_bool("DEBUG", True)


def settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess:
    """Import project.settings in a new interpreter with only ``env`` set (plus PATH)."""
    code = "from project import settings as s; print(s.DEBUG, s.SECRET_KEY)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_debug_is_off_unless_asked_for():
    """Unset DEBUG means off, and then a SECRET_KEY is required."""
    result = settings_in_a_fresh_process(SECRET_KEY="k" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "k" * 50]
    result = settings_in_a_fresh_process()
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_the_demo_turns_debug_on():
    """make demo (scripts/demo) exports DEBUG=1, where the demo key is allowed."""
    assert "export DEBUG=${DEBUG:-1}" in (ROOT / "scripts" / "demo").read_text()
    result = settings_in_a_fresh_process(DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "True"
