"""Retries in a real scheduler: each attempt its own linked run, scheduled after the backoff."""

import pytest

from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from tests.api.helpers import data_of
from tests.prometheus_parse import parse, sample
from tests.subprocesses import wait_for

P = "/api/v1/scheduler"
BACKOFF = 2.0  # retry_backoff_seconds of jc_flaky


@pytest.mark.slow
def test_a_job_failing_twice_succeeds_on_its_third_attempt(scheduler, api):
    """Three runs linked to the first, one final success; counters and Prometheus agree."""
    scheduler.start()
    data_of(api.post(f"{P}/jobs/jc_flaky/trigger"), 202, "accepted")
    runs = JobRun.objects.filter(job__job_id="jc_flaky").order_by("attempt")
    wait_for(lambda: runs.filter(status=RunStatus.SUCCESS).exists(), timeout=60)
    first, second, third = runs
    assert [(r.attempt, r.status) for r in runs] == [
        (1, RunStatus.FAILURE),
        (2, RunStatus.FAILURE),
        (3, RunStatus.SUCCESS),
    ]
    assert (first.retry_of_id, second.retry_of_id, third.retry_of_id) == (None, first.pk, first.pk)
    assert "flaky failure 1" in first.error and "flaky failure 2" in second.error
    assert {r.trigger for r in runs} == {"manual"}
    # Delays: backoff x 2^(attempt-1), within 20 % (the jitter is 10 %).
    for failed, retry in ((first, second), (second, third)):
        delay = (retry.started_at - failed.finished_at).total_seconds()
        expected = BACKOFF * 2 ** (failed.attempt - 1)
        assert abs(delay - expected) <= 0.2 * expected, (failed.attempt, delay)
    job = JobDefinition.objects.get(job_id="jc_flaky")
    assert (job.failure_count, job.retried_count, job.success_count) == (0, 2, 1)
    assert job.last_status == RunStatus.SUCCESS
    listed = data_of(api.get(f"{P}/jobs/jc_flaky"))
    assert (listed["failure_count"], listed["retried_count"]) == (0, 2)
    assert [(r["attempt"], r["retry_of"]) for r in listed["recent_runs"]] == [
        (3, first.pk),
        (2, first.pk),
        (1, None),
    ]
    response = api.get(f"{P}/metrics/prometheus")
    families = parse(response.content.decode())
    assert sample(families, "scheduler_job_failure_total", job_id="jc_flaky") == 0
    assert sample(families, "scheduler_job_retried_total", job_id="jc_flaky") == 2
    assert sample(families, "scheduler_job_success_total", job_id="jc_flaky") == 1
    assert sample(families, "scheduler_job_timed_out_total", job_id="jc_flaky") == 0
