"""The per-process window stays in step with what other processes record."""

import gc
import tracemalloc
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduler_monitor import window as window_module
from scheduler_monitor.models import JobRun, RunStatus
from scheduler_monitor.recording import get_recorder
from scheduler_monitor.stats import summarise
from scheduler_monitor.window import SyncedWindow, get_window
from tests.sqlite_plans import query_plan


def test_a_run_recorded_by_one_process_appears_in_the_others_window(make_job, record_run):
    """Two windows over one database: the second sees the first's run after a refresh."""
    job = make_job("shared")
    record_run(job, duration_ms=10.0)
    web_worker = SyncedWindow(maxlen=100)
    web_worker.refresh(force=True)
    assert web_worker.get_statistics("shared").sample_count == 1

    record_run(job, duration_ms=30.0)  # written by "the scheduler process"
    web_worker.refresh(force=True)
    stats = web_worker.get_statistics("shared")
    assert stats.sample_count == 2
    assert stats.max_duration_ms == 30.0
    web_worker.refresh(force=True)
    assert web_worker.get_statistics("shared").sample_count == 2  # never taken twice


def test_it_warms_from_the_last_n_runs_of_each_job(make_job, record_run):
    job = make_job("many")
    start = timezone.now() - timedelta(hours=1)
    for i in range(15):
        record_run(job, duration_ms=float(i), started_at=start + timedelta(minutes=i))
    window = SyncedWindow(maxlen=10)
    window.refresh(force=True)
    assert window.window.samples("many") == [float(i) for i in range(5, 15)]
    assert window.get_statistics("many") == summarise(range(5, 15))


def test_it_picks_up_a_late_commit_inside_the_overlap(make_job, record_run):
    """A row recorded with a time before the last watermark is still taken (overlap)."""
    job = make_job("late_commit")
    window = SyncedWindow(maxlen=100)
    window.refresh(force=True)
    run_id = record_run(job, duration_ms=5.0)
    # As if its transaction committed after the window's last top-up started.
    JobRun.objects.filter(pk=run_id).update(recorded_at=timezone.now() - timedelta(seconds=30))
    window.refresh(force=True)
    assert window.get_statistics("late_commit").sample_count == 1


def test_it_ignores_runs_without_a_duration(make_job, record_run):
    job = make_job("mixed")
    record_run(job, duration_ms=10.0)
    record_run(job, status=RunStatus.MISSED, duration_ms=None)
    window = SyncedWindow(maxlen=100)
    window.refresh(force=True)
    assert window.get_statistics("mixed").sample_count == 1


def test_it_does_not_query_again_within_the_refresh_interval(
    make_job, record_run, settings, django_assert_num_queries
):
    settings.SCHEDULER_MONITOR = {"WINDOW_REFRESH_INTERVAL": 60}
    make_job("quiet")
    window = SyncedWindow(maxlen=100)
    window.refresh()
    with django_assert_num_queries(0):
        window.refresh()


@pytest.mark.parametrize("jobs", [3, 30])
def test_a_top_up_costs_one_query_whatever_the_number_of_jobs(
    jobs, make_job, record_run, django_assert_num_queries
):
    window = SyncedWindow(maxlen=100)
    window.refresh(force=True)
    for _ in range(jobs):
        record_run(make_job(), duration_ms=1.0)
    with django_assert_num_queries(1):
        window.refresh(force=True)
    assert sum(s.sample_count for s in window.get_all_statistics().values()) == jobs


def test_the_watermark_queries_search_the_recorded_at_index_not_the_whole_table(
    make_job, record_run, planner_statistics
):
    # With the model's default ordering SQLite chose to walk the whole (started_at, id)
    # index for "recorded since the watermark": 1.4 s per warm-up at a million runs.
    record_run(make_job("indexed"), duration_ms=1.0)
    window = SyncedWindow(maxlen=100)
    with CaptureQueriesContext(connection) as queries:
        window.refresh(force=True)  # warm
        window.refresh(force=True)  # top up
    watermark_queries = [q["sql"] for q in queries if '"recorded_at" >=' in q["sql"]]
    assert len(watermark_queries) == 2
    for sql in watermark_queries:
        plan = query_plan(sql)
        assert "INDEX sm_run_recorded (recorded_at>" in plan, plan


MEMORY_BOUND = 16 * 2**20  # bytes: 100 jobs x 1,000 samples, plus at most SEEN_LIMIT ids


def traced_bytes_after(window: SyncedWindow, runs: int, *, first_id: int) -> list[int]:
    """Note ``runs`` recorded runs as the write path does; traced bytes at each 50,000."""
    start = timezone.now()
    sizes = []
    for i in range(runs):
        run_id = first_id + i
        at = start + timedelta(milliseconds=60 * i)  # 1,000 runs a minute
        window.note_recorded(run_id, f"job_{run_id % 100}", float(i % 997), at)
        if (i + 1) % 50_000 == 0:
            sizes.append(tracemalloc.get_traced_memory()[0])
    return sizes


@pytest.mark.parametrize("warmed", [False, True], ids=["never read", "read once"])
def test_recording_200000_runs_keeps_the_window_and_its_bookkeeping_under_a_fixed_bound(
    warmed, make_job, record_run
):
    """A scheduler records for ever and never tops up: its memory must not grow per run."""
    window = SyncedWindow(maxlen=1000)
    first_id = 1
    if warmed:
        first_id = record_run(make_job("read_once"), duration_ms=1.0) + 1
        window.refresh(force=True)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sizes = traced_bytes_after(window, 200_000, first_id=first_id)
        gc.collect()
        sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    grown = [size - before for size in sizes]
    assert max(grown) < MEMORY_BOUND, [f"{g / 2**20:.1f} MiB" for g in grown]
    # Flat, not merely small: the last 100,000 runs added less than a tenth of the bound.
    assert grown[-1] - grown[1] < MEMORY_BOUND / 10, grown
    stats = window.get_all_statistics()
    assert sum(stats[f"job_{n}"].sample_count for n in range(100)) == 100 * 1000


def test_the_scheduler_keeps_no_run_ids_while_it_never_reads_its_window(make_job):
    """Runs through the real recorder: nothing is remembered before the first read."""
    job = make_job("scheduled")
    recorder = get_recorder()
    for _ in range(50):
        recorder.execute(job.job_id, lambda: None)
    window = get_window()
    assert window.get_statistics("scheduled").sample_count == 50
    assert len(window._seen) == 0


def test_a_read_after_the_bookkeeping_was_dropped_warms_again_and_counts_each_run_once(
    make_job, monkeypatch
):
    monkeypatch.setattr(window_module, "SEEN_LIMIT", 20)
    monkeypatch.setattr(window_module, "SEEN_TRIM_MIN", 4)
    job = make_job("busy")
    window = get_window()
    window.refresh(force=True)
    recorder = get_recorder()
    for _ in range(60):
        recorder.execute(job.job_id, lambda: None)
    assert len(window._seen) < 20
    window.refresh(force=True)
    window.refresh(force=True)
    assert window.get_statistics("busy").sample_count == 60


def test_a_baseline_p95_is_reused_for_a_few_minutes_then_recomputed(make_job, record_run):
    job = make_job("based")
    now = timezone.now()
    for i in range(10):
        record_run(job, duration_ms=100.0, started_at=now - timedelta(hours=2, minutes=i))
    window = SyncedWindow(maxlen=100)
    window.refresh(force=True)
    span = {"since": now - timedelta(hours=24), "until": now - timedelta(hours=1)}
    assert window.baseline_p95("based", **span) == (100.0, 10)
    window.note_recorded(None, "based", 900.0, now, started_at=now - timedelta(hours=3))
    assert window.baseline_p95("based", **span) == (100.0, 10)  # reused
    later = {k: v + timedelta(minutes=10) for k, v in span.items()}
    p95, count = window.baseline_p95("based", **later)
    assert count == 11 and p95 == pytest.approx(500.0)
