"""Jobs: syncing declarations into rows."""

from scheduler_monitor import jobs
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
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
    assert a.callable_path == "tests.test_jobs.noop"
    assert b.removed is True
    assert b.runs.count() == 1  # history kept
    jobs.job_definitions_sync(specs=[spec("a"), spec("b")])
    assert JobDefinition.objects.get(job_id="b").removed is False
