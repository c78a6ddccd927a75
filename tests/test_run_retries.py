"""Retry delays, and how a retried attempt is counted."""

import random

from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from scheduler_monitor.recording import get_recorder
from scheduler_monitor.run_retries import retry_delay_seconds


def test_delays_double_per_attempt_within_ten_percent():
    rng = random.Random(3)
    for attempt, base in ((1, 5.0), (2, 10.0), (3, 20.0)):
        delays = [
            retry_delay_seconds(backoff_seconds=5, failed_attempt=attempt, rng=rng)
            for _ in range(200)
        ]
        assert all(0.9 * base <= d <= 1.1 * base for d in delays)
        assert max(delays) - min(delays) > 0.1 * base  # jittered, not constant


def boom():
    raise ValueError("boom")


def test_a_retried_failure_counts_as_retried_and_a_last_one_as_failure(db, make_job):
    """retry_on_failure: retried_count; the final attempt: failure_count; links kept."""
    make_job("flaky")
    recorder = get_recorder()
    first = recorder.execute("flaky", boom, retry_on_failure=True)
    last = recorder.execute("flaky", boom, attempt=2, retry_of=first.run_id)
    job = JobDefinition.objects.get(job_id="flaky")
    assert (job.retried_count, job.failure_count, job.success_count) == (1, 1, 0)
    assert (first.retrying, last.retrying) == (True, False)
    second = JobRun.objects.get(pk=last.run_id)
    assert (second.attempt, second.retry_of_id, second.status) == (2, first.run_id, "failure")


def test_a_timed_out_run_is_never_retried(db, make_job):
    """Past its limit a run is timed out, counted as such, and not marked for a retry."""
    import time

    make_job("slow")
    record = get_recorder().execute(
        "slow", lambda: time.sleep(0.3), timeout_seconds=0.1, retry_on_failure=True
    )
    run = JobRun.objects.get(pk=record.run_id)
    assert (record.retrying, run.status, run.duration_ms) == (False, RunStatus.TIMED_OUT, 100.0)
    assert run.measurements["real_duration_ms"] >= 300
    job = JobDefinition.objects.get(job_id="slow")
    assert (job.timed_out_count, job.failure_count, job.retried_count) == (1, 1, 0)
