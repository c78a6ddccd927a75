"""Write-side use cases: syncing declarations, abandoning orphaned runs, triggers."""

from datetime import timedelta

from django.utils import timezone

from scheduler_monitor import job_control, jobs, runs
from scheduler_monitor.models import (
    JobDefinition,
    JobRun,
    RunStatus,
    SchedulerInstance,
    TriggerRequest,
    TriggerStatus,
)
from scheduler_monitor.registry import JobSpec


def noop():
    """Do nothing."""


def spec(job_id, **kw):
    return JobSpec(job_id=job_id, name=kw.pop("name", job_id), func=noop, interval_seconds=60, **kw)


def test_sync_creates_updates_and_marks_removed_jobs_without_deleting(db):
    jobs.job_definitions_sync(specs=[spec("a", owner="X"), spec("b")])
    JobRun.objects.create(job=JobDefinition.objects.get(job_id="b"), status=RunStatus.SUCCESS)
    jobs.job_definitions_sync(specs=[spec("a", owner="Y", category="Cat")])
    a = JobDefinition.objects.get(job_id="a")
    b = JobDefinition.objects.get(job_id="b")
    assert (a.owner, a.category, a.removed, a.schedule) == ("Y", "Cat", False, "every 1min")
    assert a.callable_path == "tests.test_services.noop"
    assert b.removed is True
    assert b.runs.count() == 1  # history kept
    jobs.job_definitions_sync(specs=[spec("a"), spec("b")])
    assert JobDefinition.objects.get(job_id="b").removed is False


def make_instance(hostname, pid, *, heartbeat_age=0, stopped=False):
    now = timezone.now()
    return SchedulerInstance.objects.create(
        hostname=hostname,
        pid=pid,
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
        stopped_at=now if stopped else None,
    )


def test_runs_left_running_by_a_dead_instance_become_abandoned(make_job):
    """On start, a run whose scheduler died is abandoned and counted as a failure."""
    job = make_job("orphaned", success_count=3)
    make_instance("old-host", 111, heartbeat_age=3600)
    live = make_instance("other-host", 222)
    started = timezone.now() - timedelta(minutes=5)
    dead_run = JobRun.objects.create(
        job=job, status=RunStatus.RUNNING, started_at=started, hostname="old-host", pid=111
    )
    live_run = JobRun.objects.create(
        job=job, status=RunStatus.RUNNING, started_at=started, hostname="other-host", pid=222
    )
    me = make_instance("me", 333)
    assert runs.job_runs_abandon_orphans(current=me) == 1
    dead_run.refresh_from_db()
    live_run.refresh_from_db()
    assert dead_run.status == RunStatus.ABANDONED
    assert dead_run.finished_at is not None
    assert "stopped or died" in dead_run.error
    assert live_run.status == RunStatus.RUNNING
    job.refresh_from_db()
    assert (job.success_count, job.failure_count) == (3, 1)
    assert job.last_status == RunStatus.ABANDONED
    assert live.pk  # the live instance's run is untouched


def test_abandoning_an_old_run_does_not_override_a_newer_last_status(make_job):
    job = make_job("newer", last_status=RunStatus.SUCCESS, last_run_at=timezone.now())
    run = JobRun.objects.create(
        job=job,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        hostname="gone",
        pid=1,
    )
    runs.job_runs_abandon(runs=JobRun.objects.filter(pk=run.pk), reason="gone")
    job.refresh_from_db()
    assert job.last_status == RunStatus.SUCCESS
    assert job.failure_count == 1


def test_a_trigger_request_is_claimed_once(make_job):
    job = make_job("triggered")
    request = TriggerRequest.objects.create(job=job)
    assert [r.pk for r in job_control.trigger_requests_claim()] == [request.pk]
    assert job_control.trigger_requests_claim() == []
    request.refresh_from_db()
    assert request.status == TriggerStatus.RUNNING
    assert request.picked_at is not None
