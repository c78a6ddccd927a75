"""Each job's runs and failures over a window: settled buckets memoised, equal to a plain count."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduler_monitor import failure_ratio_counts
from scheduler_monitor.models import FAILED_STATUSES, TIMED_STATUSES, JobRun, RunStatus

NOW = datetime(2026, 6, 30, 15, 22, 30, tzinfo=UTC)
STATUSES = [*TIMED_STATUSES, RunStatus.ABANDONED, RunStatus.RUNNING, RunStatus.MISSED]


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def reference(since, until) -> dict[int, list[int]]:
    """Counted in Python over every stored run."""
    counted = {}
    for run in JobRun.objects.all():
        finished = run.status in {*TIMED_STATUSES, RunStatus.ABANDONED}
        if not finished or run.in_maintenance or not since <= run.started_at < until:
            continue
        total = counted.setdefault(run.job_id, [0, 0])
        total[0] += 1
        total[1] += run.status in FAILED_STATUSES
    return counted


@pytest.fixture
def history(make_job, record_run):
    rng = random.Random(7)
    jobs = [make_job() for _ in range(4)]
    for _ in range(300):
        at = NOW - timedelta(minutes=rng.uniform(0, 30 * 60))
        record_run(rng.choice(jobs), status=rng.choice(STATUSES), started_at=at)
    marked = list(JobRun.objects.order_by("?").values_list("pk", flat=True)[:30])
    JobRun.objects.filter(pk__in=marked).update(in_maintenance=True)
    return jobs


@pytest.mark.parametrize("minutes", [7, 60, 61, 24 * 60])
def test_it_equals_a_plain_count_of_the_window(history, minutes):
    since = NOW - timedelta(minutes=minutes)
    expected = reference(since, NOW)
    assert failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW) == expected
    # Again, from the memoised buckets.
    assert failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW) == expected


def test_settled_buckets_are_read_once(history, django_assert_num_queries):
    since = NOW - timedelta(minutes=60)
    with django_assert_num_queries(4):  # both live ends, the settled buckets, maintenance
        failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW)
    expected = reference(since, NOW)
    with django_assert_num_queries(3):  # the live ends and the runs in maintenance
        assert failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW) == expected


def test_a_run_in_the_live_end_counts_at_once(make_job, record_run):
    job = make_job()
    since = NOW - timedelta(minutes=60)
    failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW)
    record_run(job, status=RunStatus.FAILURE, started_at=NOW - timedelta(seconds=30))
    assert failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW) == {job.pk: [1, 1]}


def test_a_run_finished_late_in_a_settled_bucket_counts_after_the_recount(
    make_job, record_run, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(failure_ratio_counts, "monotonic", lambda: clock[0])
    job = make_job()
    since = NOW - timedelta(minutes=60)
    failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW)
    record_run(job, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=30))
    assert failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW) == {}
    clock[0] += failure_ratio_counts.RECOUNT_SECONDS
    assert failure_ratio_counts.runs_and_failures_per_job(since=since, now=NOW) == {job.pk: [1, 1]}


def test_the_memo_keeps_only_the_buckets_of_the_window(history, frozen):
    for step in range(40):
        frozen.shift(timedelta(minutes=5))
        now = NOW + timedelta(minutes=5 * (step + 1))
        failure_ratio_counts.runs_and_failures_per_job(since=now - timedelta(minutes=60), now=now)
    assert len(failure_ratio_counts._memo) <= failure_ratio_counts.BUCKETS_PER_WINDOW


def test_buckets_are_a_twelfth_of_the_window_and_at_least_five_minutes():
    assert failure_ratio_counts.bucket_size(timedelta(minutes=30)) == timedelta(minutes=5)
    assert failure_ratio_counts.bucket_size(timedelta(hours=24)) == timedelta(hours=2)
