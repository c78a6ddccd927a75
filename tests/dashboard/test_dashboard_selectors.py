"""The dashboard's read queries (selectors.py, section "Dashboard reads")."""

import math
import statistics
from datetime import UTC, timedelta

from django.utils import timezone

from scheduler_monitor import notification_chain, runs
from scheduler_monitor.models import JobRun, RunStatus


def test_it_summarises_the_gateway_measurement_of_recent_runs(make_job, record_run):
    """Only runs that measured the gateway count; the oldest fall out past the limit."""
    job = make_job()
    values = [10.0, 20.0, 30.0, 400.0]
    for minutes, value in enumerate(values):
        record_run(
            job,
            started_at=timezone.now() - timedelta(minutes=10 - minutes),
            measurements={"gateway_response_ms": value},
        )
    record_run(job, measurements={"other": 1.0})
    stats = runs.measurement_statistics(job=job, name="gateway_response_ms")
    assert stats.sample_count == 4
    assert stats.avg_duration_ms == statistics.fmean(values)
    p95 = statistics.quantiles(values, n=100, method="inclusive")[94]
    assert math.isclose(stats.p95_duration_ms, p95)
    last_two = runs.measurement_statistics(job=job, name="gateway_response_ms", limit=3)
    assert last_two.sample_count == 2  # the newest run has no gateway value


def test_it_reports_a_missing_notification_job(db):
    """An unknown job id gives an empty chain, not an error."""
    chain = notification_chain.notification_chain(job_id="nope")
    assert chain.job is None
    assert chain.success_rate is None
    assert chain.gateway.sample_count == 0


def test_it_buckets_a_week_of_outcomes_per_hour(make_job, record_run):
    """168 hours, oldest first; successes and failures counted in their UTC hour."""
    job = make_job()
    now = timezone.now()
    record_run(job, started_at=now - timedelta(minutes=1))
    record_run(job, status=RunStatus.FAILURE, started_at=now - timedelta(hours=5))
    record_run(job, started_at=now - timedelta(days=8))  # outside
    hours = runs.job_hourly_outcomes(job=job, days=7, now=now)
    assert len(hours) == 168
    assert hours[-1].hour == now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    assert sum(h.successes for h in hours) == 1
    assert sum(h.failures for h in hours) == 1
    failed = next(h for h in hours if h.failures)
    assert failed.hour <= now - timedelta(hours=5) < failed.hour + timedelta(hours=1)


def test_it_lists_runs_newest_first_with_missed_runs_by_due_time(make_job, record_run):
    """A missed run (never started) sorts by when it was due, not at either end."""
    job = make_job()
    now = timezone.now()
    old = record_run(job, started_at=now - timedelta(hours=2))
    new = record_run(job, started_at=now - timedelta(minutes=1))
    missed = JobRun.objects.create(
        job=job, status=RunStatus.MISSED, scheduled_at=now - timedelta(hours=1)
    )
    assert list(runs.job_runs(job=job).values_list("pk", flat=True)) == [new, missed.pk, old]
    assert list(runs.job_runs(job=job, status="missed")) == [missed]


def test_it_returns_recent_durations_oldest_first(make_job, record_run):
    """The chart's runs: the newest ``limit`` timed runs, in time order."""
    job = make_job()
    now = timezone.now()
    for minutes, ms in [(3, 30.0), (2, 20.0), (1, 10.0)]:
        record_run(job, duration_ms=ms, started_at=now - timedelta(minutes=minutes))
    recent = runs.job_recent_durations(job=job, limit=2)
    assert [r.duration_ms for r in recent] == [20.0, 10.0]
