"""GET heatmap?hours=: failures per category per hour, the dashboard's own selector."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from scheduler_monitor.models import RunStatus
from scheduler_monitor.selectors import failure_heatmap, iso_utc
from tests.api.helpers import data_of, error_of

URL = "/api/v1/scheduler/heatmap"


def test_it_counts_failures_per_category_and_hour(reader, make_job, record_run):
    """Cells count failed and abandoned runs; the body equals the selector's."""
    with time_machine.travel("2026-03-01T12:30:00Z", tick=False):
        now = timezone.now()
        a = make_job("a", category="Billing", name="A")
        b = make_job("b", category="Search", name="B")
        record_run(a, status=RunStatus.FAILURE, started_at=now - timedelta(minutes=10))
        record_run(a, status=RunStatus.FAILURE, started_at=now - timedelta(hours=2))
        record_run(a, status=RunStatus.SUCCESS, started_at=now - timedelta(minutes=5))
        record_run(b, status=RunStatus.FAILURE, started_at=now - timedelta(hours=30))
        data = data_of(reader.get(URL, {"hours": 3}))
        expected = failure_heatmap(hours=3)
    assert data == {"hours": 3, **expected.as_dict()}
    assert data["bucket"] == "hour"
    assert data["buckets"] == [
        "2026-03-01T10:00:00Z",
        "2026-03-01T11:00:00Z",
        "2026-03-01T12:00:00Z",
    ]
    billing, search = data["categories"]
    assert billing == {
        "category": "Billing",
        "counts": [1, 0, 1],
        "total": 2,
        "jobs": [{"job_id": "a", "job_name": "A", "failures": 2}],
    }
    assert search["counts"] == [0, 0, 0]
    assert data["max_count"] == 1
    assert iso_utc(expected.buckets[0]) == data["buckets"][0]


def test_it_buckets_by_day(reader, make_job):
    """bucket=day gives one bucket per UTC day."""
    make_job()
    data = data_of(reader.get(URL, {"hours": 72, "bucket": "day"}))
    assert data["bucket"] == "day" and len(data["buckets"]) == 3


@pytest.mark.parametrize("hours", ["abc", "-1", "0", "721", "1e9", "99999999999999999999", ""])
def test_it_rejects_bad_hours(reader, hours):
    """Non-numeric, negative, zero or huge hours are a 400 naming hours."""
    assert error_of(reader.get(URL, {"hours": hours}), 400)["data"]["field"] == "hours"


def test_it_rejects_a_bad_bucket(reader):
    """bucket must be hour or day."""
    assert error_of(reader.get(URL, {"bucket": "week"}), 400)["data"]["field"] == "bucket"
