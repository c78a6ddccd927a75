"""Persisted duration histograms: pure functions and the write path that bumps them."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduler_monitor import histogram
from scheduler_monitor.models import JobDefinition, RunStatus
from scheduler_monitor.recording import FinishedRun, write_finished_runs

BOUNDS = (0.1, 1, 10)


def test_it_counts_durations_cumulatively():
    """Each duration counts in every bucket at or above it, and in +Inf."""
    stored = histogram.observe({}, BOUNDS, [50, 100, 500, 20000])
    assert histogram.cumulative_counts(stored, BOUNDS) == [
        ("0.1", 2),
        ("1.0", 3),
        ("10.0", 3),
        ("+Inf", 4),
    ]


def test_it_starts_a_new_bound_from_the_largest_lower_one():
    """A bound added later starts at the lower estimate, so no bucket ever shrinks."""
    stored = histogram.observe({}, (0.1, 10), [50, 500, 5000])
    counts = histogram.cumulative_counts(stored, (0.1, 1, 10))
    assert counts == [("0.1", 1), ("1.0", 1), ("10.0", 3), ("+Inf", 3)]
    stored = histogram.observe(stored, (0.1, 1, 10), [700])
    assert histogram.cumulative_counts(stored, (0.1, 1, 10)) == [
        ("0.1", 1),
        ("1.0", 2),
        ("10.0", 4),
        ("+Inf", 4),
    ]


def test_it_bumps_buckets_and_last_success_in_the_write_path(make_job, record_run, settings):
    """Recorder.write counts timed runs in the histogram; missed runs and failures do not
    set last_success_at."""
    settings.SCHEDULER_MONITOR = {"HISTOGRAM_BUCKETS": BOUNDS}
    job = make_job()
    record_run(job, duration_ms=80)
    record_run(job, duration_ms=3000, status=RunStatus.FAILURE)
    record_run(job, duration_ms=None, status=RunStatus.MISSED)
    job.refresh_from_db()
    assert histogram.cumulative_counts(job.duration_buckets, BOUNDS) == [
        ("0.1", 1),
        ("1.0", 1),
        ("10.0", 2),
        ("+Inf", 2),
    ]
    assert job.last_success_at is not None
    assert job.last_success_at < job.last_run_at


def test_it_bumps_the_same_buckets_in_bulk(make_job, settings):
    """write_finished_runs gives the same buckets and last success as writing one by one."""
    settings.SCHEDULER_MONITOR = {"HISTOGRAM_BUCKETS": BOUNDS}
    job = make_job()
    now = timezone.now()
    records = [
        FinishedRun(
            job_id=job.job_id,
            status=status,
            started_at=now.replace(microsecond=0) - timedelta(minutes=10 - i),
            finished_at=now,
            duration_ms=duration,
        )
        for i, (status, duration) in enumerate(
            [
                (RunStatus.SUCCESS, 50),
                (RunStatus.SUCCESS, 400),
                (RunStatus.FAILURE, 20000),
            ]
        )
    ]
    write_finished_runs(records)
    job = JobDefinition.objects.get(pk=job.pk)
    assert histogram.cumulative_counts(job.duration_buckets, BOUNDS)[-1] == ("+Inf", 3)
    assert histogram.cumulative_counts(job.duration_buckets, BOUNDS)[0] == ("0.1", 1)
    assert job.last_success_at == records[1].started_at
    assert job.last_run_at == records[2].started_at


@pytest.mark.django_db(transaction=True)
def test_it_loses_no_observation_when_writers_race(make_job, record_run):
    """Four threads recording the same job at once: every run is in the histogram."""
    job = make_job("raced")
    barrier = threading.Barrier(4)

    def writer(n):
        barrier.wait()
        try:
            for i in range(15):
                record_run(job, duration_ms=10.0 * (n + 1) + i)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    job.refresh_from_db()
    assert job.success_count == 60
    assert job.duration_buckets["+Inf"] == 60
    durations = [10.0 * (n + 1) + i for n in range(4) for i in range(15)]
    for key, bound in (("0.01", 0.01), ("0.05", 0.05), ("0.1", 0.1)):
        assert job.duration_buckets[key] == sum(1 for d in durations if d / 1000 <= bound)
