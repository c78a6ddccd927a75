"""GET /api/v1/scheduler/metrics: exactly the brief's envelope and item fields."""

import random
import statistics
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler_monitor.models import JobDefinition, RunStatus
from scheduler_monitor.timestamps import iso_utc
from tests.api.helpers import data_of

URL = "/api/v1/scheduler/metrics"
BRIEF_FIELDS = [
    "job_id",
    "job_name",
    "owner",
    "category",
    "success_count",
    "failure_count",
    "total_runs",
    "avg_duration_ms",
    "p50_duration_ms",
    "p95_duration_ms",
    "p99_duration_ms",
    "min_duration_ms",
    "max_duration_ms",
    "sample_count",
    "last_status",
    "last_timestamp",
    "last_duration_ms",
]


def test_it_answers_the_briefs_envelope(reader, make_job):
    """code 200, message success, data with total and metrics."""
    make_job()
    payload = reader.get(URL).json()
    assert payload["code"] == 200 and payload["message"] == "success"
    assert set(payload["data"]) == {"total", "metrics"}
    assert list(payload["data"]["metrics"][0]) == BRIEF_FIELDS


def test_it_matches_the_reference_statistics(reader, make_job, record_run):
    """Window statistics equal statistics.quantiles(method='inclusive'); counters the rows."""
    rng = random.Random(7)
    job = make_job(
        "calculate_project_health",
        name="计算项目健康度",
        owner="Backend Platform",
        category="Project Health",
    )
    idle = make_job("idle_job", category="Zzz")
    durations = [round(rng.lognormvariate(5, 0.6), 3) for _ in range(137)]
    start = timezone.now() - timedelta(hours=2)
    for i, d in enumerate(durations):
        failed = i % 11 == 0
        record_run(
            job,
            status=RunStatus.FAILURE if failed else RunStatus.SUCCESS,
            duration_ms=d,
            started_at=start + timedelta(seconds=30 * i),
        )
    record_run(
        job, status=RunStatus.MISSED, duration_ms=None, started_at=start - timedelta(hours=1)
    )
    data = data_of(reader.get(URL))
    assert data["total"] == 2
    item, empty = data["metrics"]
    job = JobDefinition.objects.get(pk=job.pk)
    q = statistics.quantiles(durations, n=100, method="inclusive")
    assert item["job_id"] == "calculate_project_health"
    assert item["job_name"] == "计算项目健康度"
    assert (item["owner"], item["category"]) == ("Backend Platform", "Project Health")
    failures = sum(1 for i in range(137) if i % 11 == 0)
    assert (item["success_count"], item["failure_count"]) == (137 - failures, failures)
    assert item["total_runs"] == 137
    assert item["sample_count"] == 137
    assert item["avg_duration_ms"] == pytest.approx(statistics.fmean(durations), rel=1e-12)
    assert item["p50_duration_ms"] == pytest.approx(q[49], rel=1e-12)
    assert item["p95_duration_ms"] == pytest.approx(q[94], rel=1e-12)
    assert item["p99_duration_ms"] == pytest.approx(q[98], rel=1e-12)
    assert (item["min_duration_ms"], item["max_duration_ms"]) == (min(durations), max(durations))
    assert item["last_status"] == job.last_status
    assert item["last_timestamp"] == iso_utc(job.last_run_at)
    assert item["last_timestamp"].endswith("Z")
    assert item["last_duration_ms"] == job.last_duration_ms == durations[-1]
    assert empty == {
        "job_id": idle.job_id,
        "job_name": idle.name,
        "owner": idle.owner,
        "category": "Zzz",
        "success_count": 0,
        "failure_count": 0,
        "total_runs": 0,
        "avg_duration_ms": None,
        "p50_duration_ms": None,
        "p95_duration_ms": None,
        "p99_duration_ms": None,
        "min_duration_ms": None,
        "max_duration_ms": None,
        "sample_count": 0,
        "last_status": None,
        "last_timestamp": None,
        "last_duration_ms": None,
    }
