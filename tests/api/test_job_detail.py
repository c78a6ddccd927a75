"""GET /api/v1/scheduler/jobs/{job_id}: one job, its window statistics, its recent runs."""

import statistics
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from scheduler_monitor.models import JobDefinition, JobRun, RunStatus, RunTrigger
from scheduler_monitor.timestamps import iso_utc
from tests.api.helpers import data_of, error_of
from tests.api.test_jobs import expected_item


def test_it_shows_the_job_with_statistics_and_recent_runs(reader, make_job, record_run):
    """Fields equal the row; statistics match the reference; runs are newest first."""
    job = make_job("detail", description="Does things")
    durations = [100.0, 250.0, 40.0, 900.0, 310.0]
    start = timezone.now() - timedelta(hours=1)
    for i, duration in enumerate(durations):
        record_run(job, duration_ms=duration, started_at=start + timedelta(minutes=i))
    record_run(
        job,
        status=RunStatus.FAILURE,
        duration_ms=55.0,
        error="ValueError: x",
        started_at=start + timedelta(minutes=10),
    )
    data = data_of(reader.get("/api/v1/scheduler/jobs/detail"))
    job = JobDefinition.objects.get(pk=job.pk)
    assert {k: data[k] for k in expected_item(job)} == expected_item(job)
    assert data["removed"] is False
    assert data["max_runtime_seconds"] is None
    # record_run starts each run at its scheduled time: no delay, six samples.
    assert data["start_delay"]["sample_count"] == 6
    assert data["start_delay"]["max_ms"] == 0.0
    assert data["last_error"] == "ValueError: x"
    assert (data["missed_count"], data["skipped_count"]) == (0, 0)
    all_durations = sorted([*durations, 55.0])
    q = statistics.quantiles(all_durations, n=100, method="inclusive")
    stats = data["statistics"]
    assert stats["sample_count"] == 6
    assert stats["avg_duration_ms"] == statistics.fmean(all_durations)
    assert abs(stats["p95_duration_ms"] - q[94]) < 1e-9
    assert abs(stats["p50_duration_ms"] - statistics.median(all_durations)) < 1e-9
    assert (stats["min_duration_ms"], stats["max_duration_ms"]) == (40.0, 900.0)
    runs = JobRun.objects.filter(job=job).order_by("-started_at")
    assert [r["id"] for r in data["recent_runs"]] == [r.pk for r in runs]
    first = data["recent_runs"][0]
    newest = runs[0]
    assert first == {
        "id": newest.pk,
        "job_id": "detail",
        "status": "failure",
        "trigger": "scheduled",
        "scheduled_at": iso_utc(newest.scheduled_at),
        "started_at": iso_utc(newest.started_at),
        "finished_at": iso_utc(newest.finished_at),
        "duration_ms": 55.0,
        "error": "ValueError: x",
        "measurements": {},
        "hostname": newest.hostname,
        "pid": newest.pid,
        "recorded_at": iso_utc(newest.recorded_at),
    }


def test_it_keeps_at_most_twenty_recent_runs(reader, make_job, record_run):
    """recent_runs is bounded."""
    job = make_job("many")
    for _ in range(25):
        record_run(job)
    assert len(data_of(reader.get("/api/v1/scheduler/jobs/many"))["recent_runs"]) == 20


def test_it_shows_a_removed_job_with_its_history(reader, make_job):
    """A removed job is still readable, marked removed."""
    make_job("old", removed=True)
    assert data_of(reader.get("/api/v1/scheduler/jobs/old"))["removed"] is True


def test_it_answers_404_for_an_unknown_job(reader):
    """Unknown ids, including ones no job could have, are 404 naming job_id."""
    for job_id in ("nope", "bad%20id", "%E4%B8%AD", "x%00y"):
        payload = error_of(reader.get(f"/api/v1/scheduler/jobs/{job_id}"), 404)
        assert payload["data"]["field"] == "job_id"


NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def test_it_shows_start_delay_apart_from_duration(reader, make_job):
    """start_delay summarises scheduled runs' lateness over 24 h; duration stays apart."""
    job = make_job("late_starter", max_runtime_seconds=120)
    other = make_job("other")
    delays = [0.0, 100.0, 250.0, 400.0, 3000.0]
    for i, delay in enumerate(delays):
        started = NOW - timedelta(hours=1, minutes=i)
        JobRun.objects.create(
            job=job,
            status=RunStatus.SUCCESS,
            scheduled_at=started - timedelta(milliseconds=delay),
            started_at=started,
            duration_ms=7.0,
        )
    # Left out: a manual run, a run from two days ago, and another job's late run.
    JobRun.objects.create(
        job=job,
        status=RunStatus.SUCCESS,
        trigger=RunTrigger.MANUAL,
        scheduled_at=NOW - timedelta(hours=3),
        started_at=NOW - timedelta(hours=2),
    )
    JobRun.objects.create(
        job=job,
        status=RunStatus.SUCCESS,
        scheduled_at=NOW - timedelta(days=2, minutes=5),
        started_at=NOW - timedelta(days=2),
    )
    JobRun.objects.create(
        job=other,
        status=RunStatus.SUCCESS,
        scheduled_at=NOW - timedelta(hours=1, minutes=9),
        started_at=NOW - timedelta(hours=1),
    )
    with time_machine.travel(NOW, tick=False):
        data = data_of(reader.get("/api/v1/scheduler/jobs/late_starter"))
    q = statistics.quantiles(delays, n=100, method="inclusive")
    delay = data["start_delay"]
    assert delay["hours"] == 24 and delay["sample_count"] == 5
    assert delay["avg_ms"] == pytest.approx(statistics.fmean(delays))
    assert delay["p50_ms"] == pytest.approx(statistics.median(delays))
    assert delay["p95_ms"] == pytest.approx(q[94])
    assert delay["p99_ms"] == pytest.approx(q[98])
    assert (delay["min_ms"], delay["max_ms"]) == (0.0, 3000.0)
    assert data["max_runtime_seconds"] == 120.0
    assert (data["overdue"], data["stuck_runs"]) == (False, [])


def test_it_shows_an_empty_start_delay_and_a_stuck_run(reader, make_job):
    """No scheduled run in 24 h: nulls and zero samples; a run past max runtime is listed."""
    job = make_job("stuck_one", max_runtime_seconds=30)
    with time_machine.travel(NOW, tick=False):
        run = JobRun.objects.create(
            job=job, status=RunStatus.RUNNING, started_at=NOW - timedelta(seconds=45)
        )
        data = data_of(reader.get("/api/v1/scheduler/jobs/stuck_one"))
    assert data["start_delay"] == {
        "hours": 24,
        **{f"{k}_ms": None for k in ("avg", "p50", "p95", "p99", "min", "max")},
        "sample_count": 0,
    }
    assert [(s["run_id"], s["running_seconds"]) for s in data["stuck_runs"]] == [(run.pk, 45.0)]
