"""GET summary: the dashboard's cards, from the same selector as the pages."""

from datetime import timedelta

from django.utils import timezone

from scheduler_monitor.models import RunStatus
from tests.api.helpers import data_of


def test_it_returns_the_cards_computed_from_the_rows(reader, make_job, record_run):
    """Totals, success rate, average duration, failing jobs and last-24h runs."""
    now = timezone.now()
    a, b = make_job("a"), make_job("b")
    make_job("gone", removed=True)
    record_run(a, duration_ms=100.0, started_at=now - timedelta(hours=1))
    record_run(a, duration_ms=300.0, started_at=now - timedelta(hours=2))
    record_run(b, status=RunStatus.FAILURE, duration_ms=50.0, started_at=now - timedelta(hours=1))
    record_run(b, duration_ms=150.0, started_at=now - timedelta(hours=48))
    record_run(b, status=RunStatus.FAILURE, duration_ms=20.0, started_at=now - timedelta(minutes=1))
    data = data_of(reader.get("/api/v1/scheduler/summary"))
    assert data == {
        "total_jobs": 2,
        "total_runs": 5,
        "success_count": 3,
        "failure_count": 2,
        "success_rate": 3 / 5,
        "avg_duration_ms": (100 + 300 + 50 + 150 + 20) / 5,
        "failing_jobs": 1,
        "runs_last_24h": 4,
        "failures_last_24h": 2,
    }


def test_it_has_nulls_when_nothing_ran(reader, db):
    """No runs: rates and averages are null, counts zero."""
    data = data_of(reader.get("/api/v1/scheduler/summary"))
    assert data["success_rate"] is None and data["avg_duration_ms"] is None
    assert data["total_runs"] == 0
