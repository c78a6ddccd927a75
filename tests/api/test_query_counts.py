"""List endpoints cost a fixed number of queries however many jobs exist."""

import pytest

from scheduler_monitor.models import RunStatus
from scheduler_monitor.window import get_window

P = "/api/v1/scheduler"
# Each request: 1 query for the token (with its user), 2 for the user's and groups' permissions.
AUTH = 3
# endpoint -> queries of its own
EXPECTED = {
    "metrics": 2,  # the window's top-up and the jobs
    # the job counters, the live minutes of the two partial hours (the past hours and the
    # partial hours' settled buckets are memoised by the first call)
    "summary": 3,
    # the jobs, the current hour's failures, the missed scheduled times (the past hours'
    # failures are memoised by the first call)
    "heatmap?hours=24": 3,
    "services/list": 1,
    "jobs": 2,  # the jobs (with next run times), the running runs (stuck check)
    "status": 6,  # latest instance, 2 job counts, the lease, the live instances, events
    "jobs/job_000/runs?page_size=500": 3,  # the job, the count, the page (runs carry job)
    # the job, the running runs, the window top-up, the start delays, the recent runs
    "jobs/job_000": 5,
}


@pytest.fixture
def jobs_with_runs(make_job, record_run, store_job):
    def make(n):
        for i in range(n):
            job = make_job(f"job_{i:03}", category=f"Cat {i % 4}")
            record_run(job, duration_ms=10.0 + i)
            record_run(job, status=RunStatus.FAILURE, duration_ms=5.0)
            if i % 2:
                store_job(job.job_id)
        get_window().refresh(force=True)  # warm once: warming is not a per-request cost

    return make


@pytest.mark.parametrize("endpoint", list(EXPECTED))
@pytest.mark.parametrize("jobs", [3, 50])
def test_it_costs_a_fixed_number_of_queries(
    endpoint, jobs, jobs_with_runs, reader, django_assert_num_queries, settings
):
    """Same count with 3 and with 50 jobs (the window tops up on every request).

    Counted on a second request: the first one fills the memos of past hours, as a
    process's first request does.
    """
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "WINDOW_REFRESH_INTERVAL": 0}
    jobs_with_runs(jobs)
    assert reader.get(f"{P}/{endpoint}").status_code == 200
    with django_assert_num_queries(AUTH + EXPECTED[endpoint]):
        response = reader.get(f"{P}/{endpoint}")
    assert response.status_code == 200


# Default rules: the jobs (as text, then the rows not built before: job_rows.py), failure
# ratios (both live ends, the settled buckets, maintenance: failure_ratio_counts.py), missed times,
# recent p95 samples (the baseline's only for jobs with enough of them: none here), next run
# times, running runs, lease, live instances (12); the failing streaks of every job whose
# last run failed (1); the scheduler status once (3) since no scheduler holds a lease: for
# the down check and its message.
ALERTS = 12 + 1 + 3


@pytest.mark.parametrize("healthy", [3, 50])
def test_it_evaluates_alerts_with_queries_independent_of_healthy_jobs(
    healthy, make_job, record_run, reader, django_assert_num_queries, settings
):
    """Same count with 3 and 50 healthy jobs beside 3 failing ones."""
    settings.SCHEDULER_MONITOR = {**settings.SCHEDULER_MONITOR, "WINDOW_REFRESH_INTERVAL": 0}
    for i in range(healthy):
        record_run(make_job(f"ok_{i:03}"), duration_ms=10.0)
    for i in range(3):
        record_run(make_job(f"bad_{i}"), status=RunStatus.FAILURE)
    get_window().refresh(force=True)  # warm once: warming is not a per-request cost
    with django_assert_num_queries(AUTH + ALERTS):
        response = reader.get(f"{P}/alerts")
    assert response.json()["data"]["critical"] >= 1
