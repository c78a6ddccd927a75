"""The benchmark's data sets (tests/benchmarks/dataset.py) store runs as a recorder does."""

from datetime import UTC, datetime, timedelta

from tests.benchmarks.dataset import generate_runs

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def test_runs_come_in_time_order_over_all_jobs_each_job_with_its_share():
    """In start order across jobs (the table's rows follow time, as on a real database),
    spread evenly over the days, each job with runs // jobs runs."""
    jobs = [11, 12, 13, 14, 15, 16, 17]
    rows = list(generate_runs(jobs, 7 * 300, days=2, now=NOW))
    starts = [row[4] for row in rows]
    assert starts == sorted(starts)
    assert NOW - timedelta(days=2) <= starts[0] and starts[-1] <= NOW
    assert {job: sum(1 for r in rows if r[0] == job) for job in jobs} == dict.fromkeys(jobs, 300)
    # Interleaved, not job by job: the first tenth of the rows already holds every job.
    assert {r[0] for r in rows[: len(rows) // 10]} == set(jobs)
    assert all(r[5] >= r[4] and r[1] in ("success", "failure") for r in rows)
