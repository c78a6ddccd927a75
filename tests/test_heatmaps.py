"""The 30-day failure heatmap: equal to a count of the raw runs, today read from the
hourly memo the 24 h heatmap keeps (only the current hour counted again)."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduler_monitor import hourly_counts
from scheduler_monitor.heatmaps import daily_failure_heatmap, failure_heatmap
from scheduler_monitor.models import FAILED_STATUSES, JobRun, RunStatus

NOW = datetime(2026, 6, 30, 15, 20, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def reference(days: int) -> dict[str, list[int]]:
    """Failed runs per category per UTC day, every run read and placed by hand."""
    today = NOW.replace(hour=0, minute=0)
    first = today - timedelta(days=days - 1)
    grid: dict[str, list[int]] = {}
    rows = JobRun.objects.values_list("job__category", "status", "started_at")
    for category, status, started_at in rows:
        grid.setdefault(category, [0] * days)
        if status in FAILED_STATUSES and first <= started_at < today + timedelta(days=1):
            grid[category][(started_at - first) // timedelta(days=1)] += 1
    return grid


def shown(heatmap) -> dict[str, list[int]]:
    return {row.category: row.counts for row in heatmap.rows}


@pytest.fixture
def history(make_job):
    """Four jobs in two categories with runs over the last three days, today's included."""
    rng = random.Random(16)
    jobs = [make_job(category=f"C{i % 2}") for i in range(4)]
    statuses = [RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.ABANDONED, RunStatus.TIMED_OUT]
    JobRun.objects.bulk_create(
        JobRun(
            job=rng.choice(jobs),
            status=rng.choice(statuses),
            started_at=NOW - timedelta(seconds=rng.uniform(0, 3 * 86400)),
        )
        for _ in range(600)
    )
    return jobs


def test_it_equals_a_count_of_the_raw_runs(history):
    assert shown(daily_failure_heatmap(days=30)) == reference(30)


def test_after_the_hourly_heatmap_today_costs_no_count_of_its_past_hours(
    history, django_assert_max_num_queries
):
    failure_heatmap(hours=24)  # memoises today's complete hours
    daily_failure_heatmap(days=30)
    expected = reference(30)
    with django_assert_max_num_queries(6) as captured:
        assert shown(daily_failure_heatmap(days=30)) == expected
    today = NOW.replace(hour=0, minute=0).strftime("%Y-%m-%d %H:%M")
    counted_from = [q["sql"] for q in captured.captured_queries if f">= '{today}" in q["sql"]]
    assert counted_from == [], "today's failures counted from midnight again"
    assert any(">= '2026-06-30 15:00" in q["sql"] for q in captured.captured_queries)


def test_a_failure_recorded_now_shows_at_once(history, record_run):
    daily_failure_heatmap(days=30)
    record_run(history[0], status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=1))
    assert shown(daily_failure_heatmap(days=30)) == reference(30)


def test_an_earlier_hour_of_today_is_counted_again_after_the_recount_interval(
    history, record_run, monkeypatch
):
    """The hourly memo's documented lag, the 24 h heatmap's too: then equal again."""
    clock = [1000.0]
    monkeypatch.setattr(hourly_counts, "monotonic", lambda: clock[0])
    before = shown(daily_failure_heatmap(days=30))
    record_run(history[1], status=RunStatus.FAILURE, started_at=NOW - timedelta(hours=3))
    assert shown(daily_failure_heatmap(days=30)) == before
    clock[0] += hourly_counts.RECOUNT_SECONDS
    assert shown(daily_failure_heatmap(days=30)) == reference(30)
