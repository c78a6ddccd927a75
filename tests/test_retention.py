"""Retention: prune_job_runs rolls days up per job, then deletes them in batches."""

import io
import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduler_monitor import heatmaps, retention, trends
from scheduler_monitor.models import (
    FAILED_STATUSES,
    JobDefinition,
    JobRun,
    JobRunDailyRollup,
    RunStatus,
    TriggerRequest,
)
from tests.sqlite_plans import MILLION_RUN_STATISTICS, load_statistics, query_plan

NOW = datetime(2026, 6, 15, 12, 30, tzinfo=UTC)
TODAY = datetime(2026, 6, 15, tzinfo=UTC)


def reference_p95(durations):
    """p95 by the standard library, independent of scheduler_monitor.stats."""
    if not durations:
        return None
    if len(durations) == 1:
        return durations[0]
    return statistics.quantiles(durations, n=100, method="inclusive")[94]


def reference_rollups(rows, *, before: datetime) -> dict:
    """Per (job pk, day) aggregates of the finished rows whose day ends before ``before``."""
    groups = defaultdict(list)
    for row in rows:
        if row.status != RunStatus.RUNNING and row.moment < before:
            groups[(row.job_pk, row.moment.date())].append(row)
    expected = {}
    for key, group in groups.items():
        executed = [r for r in group if r.status not in (RunStatus.MISSED, RunStatus.SKIPPED)]
        # A timed-out run's duration is its time limit: timed, like successes and failures.
        timed = (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.TIMED_OUT)
        durations = sorted(r.duration_ms for r in executed if r.status in timed)
        expected[key] = {
            "runs": len(executed),
            "successes": sum(r.status == RunStatus.SUCCESS for r in executed),
            "failures": sum(r.status in FAILED_STATUSES for r in executed),
            "missed": sum(r.status == RunStatus.MISSED for r in group),
            "skipped": sum(r.status == RunStatus.SKIPPED for r in group),
            "duration_count": len(durations),
            "duration_sum_ms": math.fsum(durations),
            "duration_min_ms": durations[0] if durations else None,
            "duration_max_ms": durations[-1] if durations else None,
            "duration_p95_ms": reference_p95(durations),
        }
    return expected


def stored_rollups() -> dict:
    return {
        (r.job_id, r.day): {
            "runs": r.runs,
            "successes": r.successes,
            "failures": r.failures,
            "missed": r.missed,
            "skipped": r.skipped,
            "duration_count": r.duration_count,
            "duration_sum_ms": r.duration_sum_ms,
            "duration_min_ms": r.duration_min_ms,
            "duration_max_ms": r.duration_max_ms,
            "duration_p95_ms": r.duration_p95_ms,
        }
        for r in JobRunDailyRollup.objects.all()
    }


def assert_rollups_match(stored: dict, expected: dict) -> None:
    assert stored.keys() == expected.keys()
    for key, values in expected.items():
        for name, value in values.items():
            if value is None or isinstance(value, int):
                assert stored[key][name] == value, (key, name)
            else:
                assert stored[key][name] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, name)


def counters():
    return list(
        JobDefinition.objects.order_by("pk").values_list(
            "pk", "success_count", "failure_count", "missed_count", "duration_sum_ms"
        )
    )


def running_rows():
    return list(
        JobRun.objects.filter(status=RunStatus.RUNNING)
        .order_by("pk")
        .values_list("pk", "job_id", "started_at", "finished_at")
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_it_prunes_100000_runs_exactly_after_rolling_them_up(history):
    """100,000 runs: exact counts, rollups equal to the deleted days, counters and running kept."""
    jobs, rows = history(count=100_000, start=NOW - timedelta(days=45), end=NOW)
    JobDefinition.objects.update(success_count=123_456, failure_count=789, missed_count=5)
    counters_before = counters()
    running_before = running_rows()
    trends_before = trends.job_daily_trends(days=46, now=NOW)
    heatmap_before = heatmaps.daily_failure_heatmap(days=46, now=NOW).as_dict()
    cutoff = TODAY - timedelta(days=30)
    failure_cutoff = TODAY - timedelta(days=40)

    def deletable(r):
        if r.status == RunStatus.RUNNING:
            return False
        return r.moment < (failure_cutoff if r.status in FAILED_STATUSES else cutoff)

    expected_deleted = sum(deletable(r) for r in rows)
    assert JobRun.objects.count() == 100_000
    messages = []

    result = retention.job_runs_prune(
        days=30, keep_failures_days=40, batch_size=2000, now=NOW, progress=messages.append
    )

    assert result.deleted == expected_deleted
    assert JobRun.objects.count() == 100_000 - expected_deleted
    assert (
        not JobRun.objects.filter(started_at__lt=failure_cutoff)
        .exclude(status=RunStatus.RUNNING)
        .exists()
    )
    kept = JobRun.objects.filter(started_at__lt=cutoff).exclude(status=RunStatus.RUNNING)
    assert set(kept.values_list("status", flat=True)) == set(FAILED_STATUSES)
    assert counters() == counters_before
    assert running_rows() == running_before
    assert len(running_before) > 500
    assert_rollups_match(stored_rollups(), reference_rollups(rows, before=cutoff))
    assert any("deleted so far" in m for m in messages)
    assert len([m for m in messages if m.endswith("run(s)") or "kept" in m]) == 15
    # The daily trends read the same before and after: rollups replace the deleted days.
    trends_after = trends.job_daily_trends(days=46, now=NOW)
    assert [t.source for t in trends_after if t.day < cutoff.date()] == ["rollup"] * len(
        [t for t in trends_after if t.day < cutoff.date()]
    )
    assert _comparable(trends_after) == _comparable(trends_before)
    heatmap_after = heatmaps.daily_failure_heatmap(days=46, now=NOW).as_dict()
    assert heatmap_after == heatmap_before
    # Failed, abandoned and missed (each missed run here stands for one scheduled time).
    assert sum(row["total"] for row in heatmap_after["categories"]) == sum(
        r.status in FAILED_STATUSES or r.status == RunStatus.MISSED for r in rows
    )


def _comparable(trends):
    return [
        (
            t.job_id,
            t.day,
            t.runs,
            t.successes,
            t.failures,
            t.missed,
            t.skipped,
            t.duration_count,
            round(t.duration_sum_ms, 6),
            t.duration_min_ms,
            t.duration_max_ms,
            None if t.duration_p95_ms is None else round(t.duration_p95_ms, 6),
        )
        for t in trends
    ]


@pytest.mark.django_db
def test_it_keeps_failures_then_prunes_them_later_without_counting_twice(history):
    """Failures kept longer are deleted by a later prune; the rollup stays as it was."""
    _, rows = history(count=3000, start=NOW - timedelta(days=12), end=NOW, jobs=3)
    retention.job_runs_prune(days=5, keep_failures_days=8, now=NOW)
    first = stored_rollups()
    assert JobRun.objects.filter(
        status__in=FAILED_STATUSES, started_at__lt=TODAY - timedelta(days=5)
    ).exists()

    result = retention.job_runs_prune(days=5, now=NOW + timedelta(days=3))

    assert result.deleted > 0
    later_cutoff = TODAY + timedelta(days=3) - timedelta(days=5)
    assert (
        not JobRun.objects.filter(started_at__lt=later_cutoff)
        .exclude(status=RunStatus.RUNNING)
        .exists()
    )
    second = stored_rollups()
    assert {k: v for k, v in second.items() if k in first} == first
    assert_rollups_match(second, reference_rollups(rows, before=later_cutoff))


@pytest.mark.django_db
def test_it_changes_nothing_on_a_dry_run(history):
    """--dry-run reports the count a real prune then deletes, and writes nothing."""
    history(count=2000, start=NOW - timedelta(days=10), end=NOW, jobs=2)
    dry = retention.job_runs_prune(days=3, dry_run=True, now=NOW)
    assert JobRun.objects.count() == 2000
    assert not JobRunDailyRollup.objects.exists()
    real = retention.job_runs_prune(days=3, now=NOW)
    assert dry.deleted == real.deleted > 0
    assert JobRun.objects.count() == 2000 - real.deleted


@pytest.mark.django_db
def test_it_is_idempotent(history):
    """A second prune with the same cutoff deletes nothing and changes no rollup."""
    history(count=1500, start=NOW - timedelta(days=6), end=NOW, jobs=2)
    retention.job_runs_prune(days=2, now=NOW)
    first = stored_rollups()
    count = JobRun.objects.count()
    again = retention.job_runs_prune(days=2, now=NOW)
    assert again.deleted == 0
    assert JobRun.objects.count() == count
    assert stored_rollups() == first


@pytest.mark.django_db
def test_it_merges_a_run_recorded_after_its_day_was_rolled_up(make_job, record_run):
    """A record that arrives late for a rolled-up day is added to that day's rollup."""
    job = make_job()
    old = NOW - timedelta(days=10)
    record_run(job, duration_ms=100.0, started_at=old)
    record_run(job, status=RunStatus.FAILURE, duration_ms=300.0, started_at=old)
    retention.job_runs_prune(days=3, now=NOW)
    record_run(job, duration_ms=50.0, started_at=old + timedelta(minutes=5))
    retention.job_runs_prune(days=3, now=NOW)
    rollup = JobRunDailyRollup.objects.get(job=job)
    assert (rollup.runs, rollup.successes, rollup.failures) == (3, 2, 1)
    assert (rollup.duration_min_ms, rollup.duration_max_ms) == (50.0, 300.0)
    assert rollup.duration_sum_ms == 450.0
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_it_unlinks_trigger_requests_from_deleted_runs(make_job, record_run):
    """A trigger request outlives its pruned run; only the link is cleared."""
    job = make_job()
    run_id = record_run(job, started_at=NOW - timedelta(days=10))
    request = TriggerRequest.objects.create(job=job, run_id=run_id, status="done")
    retention.job_runs_prune(days=3, now=NOW)
    request.refresh_from_db()
    assert request.run_id is None


@pytest.mark.django_db
def test_it_prints_progress_and_the_summary(history):
    """The command prints a line per day and the total; nothing is left to prune after."""
    history(count=600, start=NOW - timedelta(days=5), end=NOW, jobs=2)
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("prune_job_runs", "--days", "2", "--batch-size", "50", stdout=out)
    text = out.getvalue()
    assert "deleted so far" in text
    assert "2026-06-10: deleted" in text
    assert text.strip().splitlines()[-1].startswith("Deleted ")
    assert (
        not JobRun.objects.filter(started_at__lt=TODAY - timedelta(days=2))
        .exclude(status=RunStatus.RUNNING)
        .exists()
    )


@pytest.mark.django_db
def test_it_says_what_a_dry_run_would_delete(history):
    """--dry-run prints 'Would delete N' with the same N a real prune deletes."""
    history(count=600, start=NOW - timedelta(days=5), end=NOW, jobs=2)
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("prune_job_runs", "--days", "2", "--dry-run", stdout=out)
        would = int(out.getvalue().strip().splitlines()[-1].split()[2])
        result = retention.job_runs_prune(days=2)
    assert would == result.deleted > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--days", "0"], "days must be at least 1"),
        (["--days", "30", "--keep-failures-days", "7"], "must be at least days"),
        (["--days", "30", "--batch-size", "0"], "batch_size must be at least 1"),
    ],
)
@pytest.mark.django_db
def test_it_refuses_bad_arguments(args, message):
    """Bad numbers are a CommandError naming the problem."""
    with pytest.raises(CommandError, match=message):
        call_command("prune_job_runs", *args)


def test_it_requires_days():
    """--days has no default: deleting history needs an explicit age."""
    with pytest.raises(CommandError, match="--days"):
        call_command("prune_job_runs")


@pytest.mark.django_db
def test_it_shows_pruned_failures_in_the_30_day_heatmap(make_job, record_run):
    """The 30-day heatmap counts failures of days whose runs were pruned."""
    job = make_job(category="Billing")
    for _ in range(3):
        record_run(job, status=RunStatus.FAILURE, started_at=NOW - timedelta(days=20))
    record_run(job, status=RunStatus.FAILURE, started_at=NOW - timedelta(hours=1))
    before = heatmaps.daily_failure_heatmap(days=30, now=NOW).as_dict()
    retention.job_runs_prune(days=7, now=NOW)
    after = heatmaps.daily_failure_heatmap(days=30, now=NOW).as_dict()
    assert JobRun.objects.count() == 1
    assert after == before
    (row,) = after["categories"]
    assert row["total"] == 4 and row["counts"][9] == 3 and row["counts"][-1] == 1


@pytest.mark.django_db
def test_it_lets_the_scheduler_prune_on_a_schedule(settings, history):
    """PRUNE_SCHEDULE adds a cron job to the scheduler that prunes as configured."""
    from apscheduler.triggers.cron import CronTrigger

    from scheduler_monitor.scheduler import MANUAL_STORE, PRUNE_JOB_ID, SchedulerProcess

    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "PRUNE_SCHEDULE": {"cron": "5 4 * * *", "days": 2, "batch_size": 100},
    }
    process = SchedulerProcess()
    process.prepare()
    job = process.scheduler.get_job(PRUNE_JOB_ID, jobstore=MANUAL_STORE)
    assert isinstance(job.trigger, CronTrigger)
    assert str(job.trigger.fields[6]) == "5" and str(job.trigger.fields[5]) == "4"
    history(count=500, start=NOW - timedelta(days=6), end=NOW, jobs=2)
    with time_machine.travel(NOW, tick=False):
        result = job.func()
    assert result.deleted > 0
    assert (
        not JobRun.objects.filter(started_at__lt=TODAY - timedelta(days=2))
        .exclude(status=RunStatus.RUNNING)
        .exists()
    )


@pytest.mark.django_db
def test_it_adds_no_prune_job_by_default():
    """Without PRUNE_SCHEDULE the scheduler never deletes history."""
    from scheduler_monitor.scheduler import MANUAL_STORE, PRUNE_JOB_ID, SchedulerProcess

    process = SchedulerProcess()
    process.prepare()
    assert process.scheduler.get_job(PRUNE_JOB_ID, jobstore=MANUAL_STORE) is None


@pytest.mark.parametrize(
    "value, message",
    [
        ({"cron": "17 3 * * *"}, "must be None or a dict"),
        ({"days": 0}, "'days' must be a positive integer"),
        ({"days": 30, "keep_failures_days": 10}, "'keep_failures_days' must be"),
        ({"days": 30, "cron": "every day"}, "'cron' is not a crontab"),
        ({"days": 30, "batch_size": -1}, "'batch_size' must be"),
    ],
)
def test_it_refuses_a_bad_prune_schedule(settings, value, message):
    """A bad PRUNE_SCHEDULE is an ImproperlyConfigured naming the key (checked on change)."""
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=r"\['PRUNE_SCHEDULE'\] " + message):
        settings.SCHEDULER_MONITOR = {"PRUNE_SCHEDULE": value}


@pytest.mark.django_db
def test_it_stops_between_batches_on_request_and_resumes_exactly(history):
    """Stopped mid-day, the prune leaves a consistent state; the next run finishes the job."""
    _, rows = history(count=3000, start=NOW - timedelta(days=8), end=NOW, jobs=3)
    # Day 1 (a partial day): one batch, then an empty one; day 2: one batch, then stop.
    asked = iter([False] * 5 + [True])
    first = retention.job_runs_prune(
        days=3, batch_size=200, now=NOW, should_stop=lambda: next(asked, True)
    )
    assert first.interrupted
    assert [d.deleted for d in first.days] == [first.days[0].deleted, 200]
    assert JobRunDailyRollup.objects.filter(day=first.days[1].day).count() == 3
    second = retention.job_runs_prune(days=3, batch_size=200, now=NOW)
    cutoff = TODAY - timedelta(days=3)
    expected = sum(1 for r in rows if r.status != RunStatus.RUNNING and r.moment < cutoff)
    assert first.deleted + second.deleted == expected
    assert_rollups_match(stored_rollups(), reference_rollups(rows, before=cutoff))


@pytest.mark.django_db
def test_it_reports_an_interrupted_prune_as_an_error(history, monkeypatch):
    """The command exits non-zero when stopped by a signal, after the last whole batch."""
    from scheduler_monitor.management.commands import prune_job_runs

    history(count=600, start=NOW - timedelta(days=5), end=NOW, jobs=2)
    monkeypatch.setattr(
        prune_job_runs.Command, "progress", lambda self, message: self.request_stop(15, None)
    )
    with time_machine.travel(NOW, tick=False), pytest.raises(CommandError, match="Stopped"):
        call_command("prune_job_runs", "--days", "2", "--batch-size", "50", stderr=io.StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize("statistics", [None, MILLION_RUN_STATISTICS], ids=["fresh", "analyzed"])
def test_a_delete_batch_looks_its_ids_up_by_primary_key_on_sqlite(statistics):
    """Not the status index: that scanned every finished run's entry per batch, under the
    write lock (58 ms per 100 ids at 96,000 runs)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner")
    if statistics:
        load_statistics(statistics)
    with CaptureQueriesContext(connection) as queries:
        retention._delete_runs(list(range(1, 501)))  # a batch of ids
    plan = query_plan(queries.captured_queries[-1]["sql"])
    assert "INTEGER PRIMARY KEY" in plan, plan
    assert "sm_run_status_started_job" not in plan, plan


def raw_counts_before(cutoff: datetime) -> dict:
    """Per (job pk, UTC day): finished runs whose moment (the start; for a missed or skipped
    run its scheduled time, else its end) lies before ``cutoff``, read in plain SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT job_id, COALESCE(started_at, scheduled_at, finished_at) AS moment "
            "FROM scheduler_monitor_jobrun "
            "WHERE status <> %s AND COALESCE(started_at, scheduled_at, finished_at) < %s",
            [RunStatus.RUNNING, connection.ops.adapt_datetimefield_value(cutoff)],
        )
        counts = defaultdict(int)
        for job_pk, started in cursor.fetchall():
            if isinstance(started, str):  # SQLite hands back text
                started = datetime.fromisoformat(started)
            counts[(job_pk, started.date())] += 1
    return dict(counts)


@pytest.mark.django_db
def test_it_deletes_exactly_the_runs_before_the_cutoff_and_rolls_up_as_many(history):
    """The runs deleted are those before the cutoff, and each (job, day) rollup adds up to
    the raw count of its runs; the runs after it are untouched."""
    _, rows = history(count=4000, start=NOW - timedelta(days=9), end=NOW, jobs=4)
    cutoff = TODAY - timedelta(days=4)
    before = raw_counts_before(cutoff)
    kept = sum(1 for r in rows if r.status == RunStatus.RUNNING or r.moment >= cutoff)
    kept_before = raw_counts_before(NOW + timedelta(days=1))
    result = retention.job_runs_prune(days=4, batch_size=300, now=NOW)
    assert result.deleted == sum(before.values()) > 1000
    assert JobRun.objects.count() == kept == len(rows) - result.deleted
    assert raw_counts_before(cutoff) == {}
    assert raw_counts_before(NOW + timedelta(days=1)) == {
        key: n for key, n in kept_before.items() if key not in before
    }
    totals = {
        (r.job_id, r.day): r.runs + r.missed + r.skipped for r in JobRunDailyRollup.objects.all()
    }
    assert totals == before
    # Where the time went: the rollups and the batches, and the pauses kept apart.
    assert result.batches >= result.deleted / 300
    assert result.busy_seconds == result.rollup_seconds + result.delete_seconds
    assert result.rollup_seconds > 0 and result.delete_seconds > 0
    assert result.paused_seconds >= result.batches * 0.002


@pytest.mark.django_db
def test_it_says_where_the_time_went_when_verbose(history):
    """-v 2 adds a line: busy seconds (rolling up, deleting), batches, pauses."""
    history(count=600, start=NOW - timedelta(days=5), end=NOW, jobs=2)
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("prune_job_runs", "--days", "2", "--verbosity", "2", stdout=out)
    (line,) = [line for line in out.getvalue().splitlines() if line.startswith("Busy ")]
    assert " s: rolling up " in line and " batch(es); paused " in line
    assert out.getvalue().strip().splitlines()[-1].startswith("Deleted ")


@pytest.mark.django_db(transaction=True)
def test_it_prunes_a_run_whose_retry_is_kept_and_unlinks_the_retry(make_job, record_run):
    """A first attempt just before the cutoff, retried just after it: the attempt goes, the
    retry stays with its link cleared (SET_NULL), and the prune commits (the foreign key is
    checked at commit on SQLite and PostgreSQL alike)."""
    job = make_job()
    cutoff = TODAY - timedelta(days=3)
    first = record_run(job, status=RunStatus.FAILURE, started_at=cutoff - timedelta(seconds=2))
    retry = record_run(job, started_at=cutoff + timedelta(seconds=30))
    JobRun.objects.filter(pk=retry).update(retry_of_id=first, attempt=2)
    result = retention.job_runs_prune(days=3, now=NOW)
    assert result.deleted == 1
    assert list(JobRun.objects.values_list("pk", "retry_of_id", "attempt")) == [(retry, None, 2)]


@pytest.mark.django_db
def test_on_sqlite_it_deletes_a_day_job_by_job_from_one_read(history, monkeypatch):
    """Each day's runs go in job order (the (job, started_at) index is the one whose pages a
    time-ordered batch scatters over), read once per day, in batches of the pacer's size."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL deletes in the order it reads, batch by batch")
    _, rows = history(count=3000, start=NOW - timedelta(days=8), end=NOW, jobs=6)
    job_of = dict(JobRun.objects.values_list("pk", "job_id"))
    batches = []
    real_delete = retention._delete_runs

    def spy(ids):
        batches.append(list(ids))
        return real_delete(ids)

    monkeypatch.setattr(retention, "_delete_runs", spy)
    with CaptureQueriesContext(connection) as queries:
        result = retention.job_runs_prune(days=3, batch_size=150, now=NOW)
    deleted = [pk for batch in batches for pk in batch]
    assert len(deleted) == len(set(deleted)) == result.deleted > 1000
    assert all(len(batch) <= 150 for batch in batches)
    reads = [
        q["sql"] for q in queries if q["sql"].startswith('SELECT "scheduler_monitor_jobrun"."id"')
    ]
    assert len(reads) == len(result.days)  # one read per day, not one per batch
    # The job of consecutive deleted runs never goes back, but where a new day starts.
    steps_back = sum(1 for a, b in zip(deleted, deleted[1:], strict=False) if job_of[b] < job_of[a])
    assert 0 < steps_back <= len(result.days) - 1
    # The failures are counted from that one read: the same as the raw rows say.
    cutoff = TODAY - timedelta(days=3)
    assert sum(d.deleted_failures for d in result.days) == sum(
        1 for r in rows if r.status in FAILED_STATUSES and r.moment < cutoff
    )


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_it_checkpoints_less_often_meanwhile_and_puts_the_setting_back(history):
    """The connection's wal_autocheckpoint is PRUNE_CHECKPOINT_PAGES during the prune and
    what it was afterwards; the WAL is checkpointed at the end."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's WAL")
    history(count=1500, start=NOW - timedelta(days=6), end=NOW, jobs=3)

    def autocheckpoint():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            return cursor.fetchone()[0]

    before = autocheckpoint()
    seen = []
    result = retention.job_runs_prune(
        days=2, batch_size=100, now=NOW, progress=lambda message: seen.append(autocheckpoint())
    )
    assert result.deleted > 500
    assert before == 1000 and set(seen) == {retention.PRUNE_CHECKPOINT_PAGES}
    assert autocheckpoint() == before
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, frames, copied = cursor.fetchone()
    assert busy == 0 and frames == copied  # nothing of the prune's left to copy
