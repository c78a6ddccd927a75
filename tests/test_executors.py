"""ScheduledTimeExecutor: each run knows the time it was scheduled for, and is recorded."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from scheduler_monitor.executors import ScheduledTimeExecutor, current_scheduled_time
from scheduler_monitor.models import JobRun, RunStatus


@pytest.mark.django_db(transaction=True)
def test_it_tells_each_of_several_due_runs_its_own_time():
    """Three overdue run times, not coalesced: three calls, each with its scheduled time."""
    seen, done = [], threading.Event()

    def job():
        seen.append(current_scheduled_time())
        if len(seen) == 3:
            done.set()

    scheduler = BackgroundScheduler(executors={"default": ScheduledTimeExecutor(2)}, timezone=UTC)
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2.5)
    scheduler.add_job(
        job,
        "interval",
        id="three_times",
        seconds=1,
        next_run_time=first,
        coalesce=False,
        misfire_grace_time=None,
        start_date=first,
    )
    scheduler.start()
    try:
        assert done.wait(10), "the job did not run three times"
    finally:
        scheduler.shutdown(wait=True)
    assert seen[:3] == [first, first + timedelta(seconds=1), first + timedelta(seconds=2)]
    assert all(t.tzinfo is UTC for t in seen)
    assert current_scheduled_time() is None  # nothing leaks into other threads
    runs = JobRun.objects.filter(job__job_id="three_times").order_by("scheduled_at")[:3]
    assert [(r.status, r.scheduled_at) for r in runs] == [(RunStatus.SUCCESS, t) for t in seen[:3]]


def test_it_has_no_scheduled_time_outside_a_run():
    """A plain thread has no scheduled time."""
    result = []
    thread = threading.Thread(target=lambda: result.append(current_scheduled_time()))
    thread.start()
    thread.join()
    assert result == [None]
