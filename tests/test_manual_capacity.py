"""Manual-run capacity: caps on the manual runs queued or running, and what passes them."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.job_control import job_trigger, jobs_batch
from scheduler_monitor.manual_capacity import (
    LOST_AFTER,
    TriggerLimitReached,
    manual_runs_in_flight,
)
from scheduler_monitor.models import JobRun, RunStatus, TriggerRequest, TriggerStatus

LIMITS = {"MANUAL_MAX_PER_JOB": 2, "MANUAL_MAX_TOTAL": 3, "TRIGGER_POLL_INTERVAL": 2}


@pytest.fixture
def limits(settings):
    settings.SCHEDULER_MONITOR = dict(LIMITS)


def trigger(job_id):
    return job_trigger(job_id=job_id, allow_concurrent=True)


def test_it_refuses_a_trigger_past_the_per_job_limit(limits, make_job):
    """Two may wait for one job; the third is refused naming the job, the others still pass."""
    make_job("a", last_duration_ms=4000)
    make_job("b")
    trigger("a")
    trigger("a")
    with pytest.raises(TriggerLimitReached) as refused:
        trigger("a")
    assert refused.value.scope == "job" and refused.value.limit == 2
    # Poll interval 2 s + one round of the job's last duration (4 s) on 2 threads.
    assert refused.value.retry_after == 6
    assert "'a'" in str(refused.value)
    trigger("b")
    assert TriggerRequest.objects.count() == 3


def test_it_refuses_a_trigger_past_the_total_limit(limits, make_job):
    for job_id in ("a", "b", "c"):
        make_job(job_id)
    trigger("a")
    trigger("a")
    trigger("b")
    with pytest.raises(TriggerLimitReached) as refused:
        trigger("c")
    assert refused.value.scope == "total" and refused.value.limit == 3
    assert refused.value.retry_after >= 1


def test_finished_and_lost_requests_free_their_place(limits, make_job, record_run):
    """Done, failed, abandoned-run and long-lost claimed requests hold no place."""
    job = make_job("a")
    make_job("b")
    now = timezone.now()
    TriggerRequest.objects.create(job=job, status=TriggerStatus.DONE)
    TriggerRequest.objects.create(job=job, status=TriggerStatus.FAILED)
    abandoned = JobRun.objects.create(job=job, status=RunStatus.ABANDONED, started_at=now)
    TriggerRequest.objects.create(job=job, status=TriggerStatus.RUNNING, run=abandoned)
    TriggerRequest.objects.create(
        job=job, status=TriggerStatus.RUNNING, picked_at=now - LOST_AFTER - timedelta(seconds=1)
    )
    assert manual_runs_in_flight().count() == 0
    # Still in flight: claimed just now, and claimed with a running run.
    TriggerRequest.objects.create(job=job, status=TriggerStatus.RUNNING, picked_at=now)
    running = JobRun.objects.create(job=job, status=RunStatus.RUNNING, started_at=now)
    TriggerRequest.objects.create(job=job, status=TriggerStatus.RUNNING, run=running)
    assert manual_runs_in_flight().count() == 2
    with pytest.raises(TriggerLimitReached):
        trigger("a")


def test_a_batch_reports_429_per_job_past_the_limits(limits, make_job):
    for job_id in ("a", "b", "c"):
        make_job(job_id)
    trigger("a")
    trigger("a")
    results = jobs_batch(action="trigger", job_ids=["a", "b", "c"], allow_concurrent=True)
    assert [(r.job_id, r.status, r.ok) for r in results] == [
        ("a", 429, False),
        ("b", 202, True),
        ("c", 429, False),
    ]
    assert results[0].retry_after >= 1 and results[1].retry_after is None
    assert TriggerRequest.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_simultaneous_triggers_never_pass_the_total(settings, make_job):
    """Eight threads trigger four jobs at once: exactly MANUAL_MAX_TOTAL are queued."""
    settings.SCHEDULER_MONITOR = {"MANUAL_MAX_PER_JOB": 3, "MANUAL_MAX_TOTAL": 5}
    for job_id in ("a", "b", "c", "d"):
        make_job(job_id)
    outcomes = []
    start = threading.Barrier(8)

    def worker(job_id):
        start.wait()
        try:
            trigger(job_id)
            outcomes.append("ok")
        except TriggerLimitReached:
            outcomes.append("429")
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=worker, args=("abcd"[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["429"] * 3 + ["ok"] * 5
    assert TriggerRequest.objects.count() == 5


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"MANUAL_EXECUTOR_THREADS": 0}, "MANUAL_EXECUTOR_THREADS"),
        ({"MANUAL_MAX_PER_JOB": "5"}, "MANUAL_MAX_PER_JOB"),
        ({"MANUAL_MAX_TOTAL": -1}, "MANUAL_MAX_TOTAL"),
        ({"MANUAL_MAX_PER_JOB": 6, "MANUAL_MAX_TOTAL": 5}, "MANUAL_MAX_PER_JOB"),
    ],
)
def test_bad_limits_are_refused_at_start(settings, options, key):
    with pytest.raises(ImproperlyConfigured, match=key):
        settings.SCHEDULER_MONITOR = options  # checked when the setting changes
        conf.validate()
