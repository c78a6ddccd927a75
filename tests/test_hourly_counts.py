"""Counts over the last 24 h: past hours memoised, equal to a plain count of the runs."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduler_monitor import hourly_counts
from scheduler_monitor.models import FAILED_STATUSES, JobRun, RunStatus

NOW = datetime(2026, 6, 30, 15, 20, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def reference(since, until) -> tuple[int, int]:
    runs = JobRun.objects.filter(
        job__removed=False,
        started_at__gte=since,
        started_at__lt=until,
        status__in=[RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.ABANDONED],
    )
    return runs.count(), runs.filter(status__in=FAILED_STATUSES).count()


def test_it_equals_a_plain_count_and_reads_past_hours_once(
    make_job, record_run, django_assert_num_queries
):
    rng = random.Random(4)
    jobs = [make_job() for _ in range(3)]
    for _ in range(120):
        status = rng.choice([RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.ABANDONED])
        at = NOW - timedelta(minutes=rng.uniform(0, 26 * 60))
        record_run(rng.choice(jobs), status=status, started_at=at)
    since = NOW - timedelta(hours=24)
    assert hourly_counts.runs_and_failures(since, NOW) == reference(since, NOW)
    expected = reference(since, NOW)
    with django_assert_num_queries(2):  # the two partial hours only, one range each
        assert hourly_counts.runs_and_failures(since, NOW) == expected
    record_run(jobs[0], status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=5))
    assert hourly_counts.runs_and_failures(since, NOW) == reference(since, NOW)


def test_a_past_hour_is_counted_again_after_the_recount_interval(make_job, record_run, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(hourly_counts, "monotonic", lambda: clock[0])
    job = make_job()
    since = NOW - timedelta(hours=24)
    hourly_counts.runs_and_failures(since, NOW)
    record_run(job, status=RunStatus.FAILURE, started_at=NOW - timedelta(hours=5))
    assert hourly_counts.runs_and_failures(since, NOW) == (0, 0)  # memoised, as documented
    clock[0] += hourly_counts.RECOUNT_SECONDS
    assert hourly_counts.runs_and_failures(since, NOW) == (1, 1)


def test_failures_per_hour_equal_the_plain_counts(make_job, record_run):
    jobs = [make_job() for _ in range(4)]
    rng = random.Random(8)
    current = NOW.replace(minute=0, second=0)
    hours = [current - timedelta(hours=i) for i in range(23, -1, -1)]
    for _ in range(80):
        at = NOW - timedelta(minutes=rng.uniform(0, 24 * 60 - 21))
        record_run(rng.choice(jobs), status=RunStatus.FAILURE, started_at=at)
    from scheduler_monitor.failure_counts import failures_per_job_and_bucket

    expected = failures_per_job_and_bucket([*hours, current + timedelta(hours=1)])
    assert hourly_counts.failures_per_job_and_hour(hours) == expected
    record_run(jobs[1], status=RunStatus.FAILURE, started_at=NOW)  # the current hour: live
    expected = failures_per_job_and_bucket([*hours, current + timedelta(hours=1)])
    assert hourly_counts.failures_per_job_and_hour(hours) == expected


@pytest.mark.parametrize("minute", [0, 4, 7, 33, 59])
def test_it_equals_a_plain_count_at_any_minute_of_the_hour(make_job, record_run, frozen, minute):
    now = NOW.replace(minute=minute, second=17)
    frozen.move_to(now)
    rng = random.Random(minute)
    job = make_job()
    for _ in range(150):
        status = rng.choice([RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.ABANDONED])
        record_run(job, status=status, started_at=now - timedelta(minutes=rng.uniform(0, 25 * 60)))
    since = now - timedelta(hours=24)
    assert hourly_counts.runs_and_failures(since, now) == reference(since, now)
    assert hourly_counts.runs_and_failures(since, now) == reference(since, now)  # memoised


def test_the_partial_hours_read_only_their_live_minutes_once_memoised(
    make_job, record_run, django_assert_num_queries, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(hourly_counts, "monotonic", lambda: clock[0])
    job = make_job()
    since = NOW - timedelta(hours=24)
    hourly_counts.runs_and_failures(since, NOW)
    # In the current hour's settled buckets (15:00-15:15 at 15:20:30): memoised until a recount.
    record_run(job, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=12))
    # In its live minutes (after 15:15): counted at once.
    record_run(job, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=1))
    with django_assert_num_queries(2):  # one live range at each end
        assert hourly_counts.runs_and_failures(since, NOW) == (1, 1)
    clock[0] += hourly_counts.RECOUNT_SECONDS
    assert hourly_counts.runs_and_failures(since, NOW) == (2, 2)
