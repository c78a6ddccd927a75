"""Failures per job and bucket; past days memoised and recounted when they change."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduler_monitor.failure_counts import failures_per_job_and_day
from scheduler_monitor.models import JobRun, RunStatus

NOW = datetime(2026, 6, 30, 15, 20, tzinfo=UTC)
FAILED = (RunStatus.FAILURE, RunStatus.ABANDONED)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def day_starts(days: int, now: datetime = NOW) -> list[datetime]:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=i) for i in range(days - 1, -1, -1)]


def recount(starts: list[datetime]) -> dict[int, list[int]]:
    """The reference: every failed run read and put in its day by hand."""
    counts: dict[int, list[int]] = {}
    end = starts[-1] + timedelta(days=1)
    for job_pk, status, started_at in JobRun.objects.values_list("job_id", "status", "started_at"):
        if status in FAILED and starts[0] <= started_at < end:
            day = (started_at - starts[0]) // timedelta(days=1)
            counts.setdefault(job_pk, [0] * len(starts))[day] += 1
    return counts


@pytest.fixture
def history(make_job):
    """Three jobs with random successes and failures over 32 days."""
    rng = random.Random(30)
    jobs = [make_job(f"j{i}") for i in range(3)]
    runs = []
    for _ in range(400):
        started = NOW - timedelta(seconds=rng.uniform(0, 32 * 86400))
        status = rng.choice([RunStatus.SUCCESS, RunStatus.SUCCESS, *FAILED])
        runs.append(JobRun(job=rng.choice(jobs), status=status, started_at=started))
    JobRun.objects.bulk_create(runs)
    return jobs


def test_it_counts_each_failure_in_its_day(history):
    starts = day_starts(30)
    assert failures_per_job_and_day(starts) == recount(starts)


def test_a_second_call_counts_only_today_and_checks_the_past(history, django_assert_num_queries):
    starts = day_starts(30)
    first = failures_per_job_and_day(starts)
    with django_assert_num_queries(2):  # the past days' signature, today's counts
        assert failures_per_job_and_day(starts) == first


def test_a_failure_recorded_today_is_counted_at_once(history, django_assert_num_queries):
    starts = day_starts(30)
    failures_per_job_and_day(starts)
    JobRun.objects.create(job=history[0], status=RunStatus.FAILURE, started_at=NOW)
    expected = recount(starts)
    with django_assert_num_queries(2):
        assert failures_per_job_and_day(starts) == expected


def test_a_past_run_that_ends_in_failure_later_is_counted(history):
    starts = day_starts(30)
    yesterday = NOW - timedelta(days=1)
    run = JobRun.objects.create(job=history[1], status=RunStatus.RUNNING, started_at=yesterday)
    before = failures_per_job_and_day(starts)
    JobRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILURE, finished_at=NOW)
    after = failures_per_job_and_day(starts)
    assert after == recount(starts)
    assert after[history[1].pk][-2] == before[history[1].pk][-2] + 1


def test_a_deleted_past_failure_is_no_longer_counted(history):
    starts = day_starts(30)
    failures_per_job_and_day(starts)
    oldest = (
        JobRun.objects.filter(status__in=FAILED, started_at__gte=starts[0])
        .order_by("started_at")
        .first()
    )
    oldest.delete()
    assert failures_per_job_and_day(starts) == recount(starts)


def test_the_next_day_moves_the_memoised_days_on(history, frozen):
    failures_per_job_and_day(day_starts(30))
    frozen.shift(timedelta(days=1))
    tomorrow = day_starts(30, NOW + timedelta(days=1))
    assert failures_per_job_and_day(tomorrow) == recount(tomorrow)


def test_one_day_is_today_alone(history):
    assert failures_per_job_and_day(day_starts(1)) == recount(day_starts(1))


def test_rolled_up_failures_are_read_once_and_again_after_a_prune_wrote_more(
    make_job, django_assert_num_queries
):
    from scheduler_monitor.failure_counts import rolled_up_failures
    from scheduler_monitor.models import JobRunDailyRollup

    job = make_job()
    first = NOW.date() - timedelta(days=29)

    def rollup(day, failures):
        JobRunDailyRollup.objects.create(
            job=job, day=day, runs=10, failures=failures, rolled_up_at=NOW
        )

    rollup(first + timedelta(days=1), 3)
    assert rolled_up_failures(first) == {(job.pk, first + timedelta(days=1)): 3}
    with django_assert_num_queries(1):  # the signature only
        assert rolled_up_failures(first) == {(job.pk, first + timedelta(days=1)): 3}
    rollup(first + timedelta(days=2), 5)
    assert rolled_up_failures(first)[(job.pk, first + timedelta(days=2))] == 5


def test_a_rollup_merged_in_place_shows_within_the_recheck_interval(make_job, monkeypatch):
    """A new rollup shows at once; one a prune merged more runs into shows after the
    recheck interval (its count and highest id did not change), never stays stale."""
    from scheduler_monitor import failure_counts
    from scheduler_monitor.failure_counts import rolled_up_failures
    from scheduler_monitor.models import JobRunDailyRollup

    clock = [1000.0]
    monkeypatch.setattr(failure_counts, "monotonic", lambda: clock[0])
    job = make_job()
    first = NOW.date() - timedelta(days=29)
    day = first + timedelta(days=1)
    rollup = JobRunDailyRollup.objects.create(
        job=job, day=day, runs=10, failures=3, missed=1, rolled_up_at=NOW
    )
    assert rolled_up_failures(first) == {(job.pk, day): 4}
    JobRunDailyRollup.objects.filter(pk=rollup.pk).update(
        failures=6, rolled_up_at=NOW + timedelta(minutes=1)
    )
    assert rolled_up_failures(first) == {(job.pk, day): 4}  # as documented: within the interval
    clock[0] += failure_counts.ROLLUP_RECHECK_SECONDS
    assert rolled_up_failures(first) == {(job.pk, day): 7}
    JobRunDailyRollup.objects.create(
        job=job, day=day + timedelta(days=1), runs=10, failures=2, rolled_up_at=NOW
    )
    assert rolled_up_failures(first) == {(job.pk, day): 7, (job.pk, day + timedelta(days=1)): 2}


def test_rollups_unchanged_cost_one_index_only_count_between_rechecks(
    make_job, django_assert_num_queries
):
    from scheduler_monitor.failure_counts import rolled_up_failures
    from scheduler_monitor.models import JobRunDailyRollup

    job = make_job()
    first = NOW.date() - timedelta(days=29)
    JobRunDailyRollup.objects.create(job=job, day=first, runs=10, failures=3, rolled_up_at=NOW)
    rolled_up_failures(first)
    with django_assert_num_queries(1) as captured:
        assert rolled_up_failures(first) == {(job.pk, first): 3}
    assert "rolled_up_at" not in captured.captured_queries[0]["sql"]


def test_today_is_counted_by_count_today_when_it_answers(history, django_assert_num_queries):
    starts = day_starts(30)
    expected = recount(starts)
    today_of = {pk: counts[-1] for pk, counts in expected.items()}
    asked = []

    def count_today(start, end):
        asked.append((start, end))
        return today_of

    failures_per_job_and_day(starts)
    with django_assert_num_queries(1):  # the past days' signature only
        assert failures_per_job_and_day(starts, count_today=count_today) == expected
    assert asked == [(starts[-1], starts[-1] + timedelta(days=1))]
    assert failures_per_job_and_day(starts, count_today=lambda s, e: None) == expected
