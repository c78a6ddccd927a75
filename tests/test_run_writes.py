"""The recording path's writes: the one-statement finish on PostgreSQL."""

import time

import pytest
from django.db import connection

from scheduler_monitor.models import JobRun, RunStatus, RunTrigger
from scheduler_monitor.recording import FinishedRun, get_recorder


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's one-statement path")
def test_it_finishes_and_counts_a_run_in_one_statement_on_postgresql(make_job):
    """Once a job's buckets are stored, a finish is one statement with the same outcome."""
    from django.test.utils import CaptureQueriesContext

    from scheduler_monitor import conf, histogram

    job = make_job("one_statement")
    recorder = get_recorder()
    first = recorder.execute(job.job_id, lambda: None)  # stores every bound
    with CaptureQueriesContext(connection) as queries:
        second = recorder.execute(job.job_id, lambda: time.sleep(0.003))
    finishes = [q["sql"] for q in queries.captured_queries if "WITH finished AS" in q["sql"]]
    assert len(finishes) == 1
    assert not any("FOR UPDATE" in q["sql"] for q in queries.captured_queries)
    job.refresh_from_db()
    expected = histogram.observe(
        {}, conf.get("HISTOGRAM_BUCKETS"), [first.duration_ms, second.duration_ms]
    )
    assert job.duration_buckets == expected
    assert job.success_count == 2
    assert job.duration_sum_ms == pytest.approx(first.duration_ms + second.duration_ms)
    assert JobRun.objects.get(pk=second.run_id).status == RunStatus.SUCCESS
    # A row another instance already abandoned is neither finished nor counted.
    running = recorder._insert_running(job.job_id, RunTrigger.SCHEDULED, None, first.started_at)
    JobRun.objects.filter(pk=running).update(status=RunStatus.ABANDONED)
    late = FinishedRun(
        job_id=job.job_id,
        status=RunStatus.SUCCESS,
        started_at=first.started_at,
        finished_at=first.finished_at,
        duration_ms=5.0,
        run_id=running,
    )
    assert recorder.write(late) is None
    job.refresh_from_db()
    assert job.success_count == 2
    assert job.duration_buckets == expected
    assert JobRun.objects.get(pk=running).status == RunStatus.ABANDONED
