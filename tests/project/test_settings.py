"""The demo project's settings come from the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from project import settings as project_settings


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
