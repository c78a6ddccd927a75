"""GET heatmap?hours=: failures per category per hour, the dashboard's own selector."""

import random
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduler_monitor.heatmaps import failure_heatmap
from scheduler_monitor.models import JobRun, RunStatus
from scheduler_monitor.timestamps import iso_utc
from tests.api.helpers import data_of, error_of
from tests.sqlite_plans import query_plan

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


def test_a_720_hour_heatmap_counts_every_failure_in_its_own_hour(reader, make_job):
    """Over several count queries (60 hours each) every cell equals a plain recount."""
    rng = random.Random(720)
    with time_machine.travel("2026-03-31T12:30:00Z", tick=False):
        now = timezone.now()
        first_hour = now.replace(minute=0) - timedelta(hours=719)
        jobs = [make_job(f"j{i}", category=f"C{i % 3}") for i in range(6)]
        removed = make_job("gone", category="C0", removed=True)
        moments = [first_hour + timedelta(hours=h) for h in (0, 59, 60, 61, 119, 120, 719)]
        moments += [first_hour + timedelta(seconds=rng.uniform(0, 720 * 3600)) for _ in range(150)]
        runs, expected = [], {f"C{i}": [0] * 720 for i in range(3)}
        for n, moment in enumerate(moments):
            job = jobs[n % len(jobs)]
            status = (RunStatus.FAILURE, RunStatus.ABANDONED, RunStatus.SUCCESS)[n % 3]
            runs.append(JobRun(job=job, status=status, started_at=moment, finished_at=moment))
            if status != RunStatus.SUCCESS:
                expected[job.category][int((moment - first_hour).total_seconds() // 3600)] += 1
        for moment in (first_hour - timedelta(microseconds=1), first_hour + timedelta(hours=3)):
            runs.append(JobRun(job=removed, status=RunStatus.FAILURE, started_at=moment))
            runs.append(JobRun(job=jobs[0], status=RunStatus.FAILURE, started_at=moment))
        expected["C0"][3] += 1  # jobs[0]'s second one; the first is before the first hour
        JobRun.objects.bulk_create(runs)
        data = data_of(reader.get(URL, {"hours": 720}))
    assert data["buckets"][0] == iso_utc(first_hour) and len(data["buckets"]) == 720
    assert {row["category"]: row["counts"] for row in data["categories"]} == expected
    totals = {
        row["category"]: {j["job_id"]: j["failures"] for j in row["jobs"]}
        for row in data["categories"]
    }
    assert "gone" not in totals["C0"]
    assert sum(n for per_job in totals.values() for n in per_job.values()) == sum(
        map(sum, expected.values())
    )


def test_the_failure_counts_read_the_covering_status_index_only(
    make_job, record_run, planner_statistics
):
    # Grouped by job, SQLite preferred walking every job's runs by (job, started_at).
    record_run(make_job(), status=RunStatus.FAILURE)
    with CaptureQueriesContext(connection) as queries:
        failure_heatmap(hours=24)
    [count_sql] = [q["sql"] for q in queries if "FILTER" in q["sql"]]
    plan = query_plan(count_sql)
    assert plan.startswith(
        "SEARCH scheduler_monitor_jobrun USING COVERING INDEX sm_run_status_started_job"
    ), plan
