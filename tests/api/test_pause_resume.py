"""POST jobs/{job_id}/pause and /resume: through django-apscheduler's job store."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor.models import JobDefinition
from scheduler_monitor.timestamps import iso_utc
from tests.api.helpers import CHANGE, VIEW, data_of, error_of


def post(client, job_id, action):
    return client.post(f"/api/v1/scheduler/jobs/{job_id}/{action}")


def test_it_pauses_in_the_row_and_the_job_store(token_client, make_job, store_job):
    """Pause flags the job and clears the stored next run time (column and pickled state)."""
    client = token_client(VIEW, CHANGE)
    make_job("p")
    store_job("p", seconds=60)
    data = data_of(post(client, "p", "pause"))
    assert data == {"job_id": "p", "paused": True, "next_run_time": None, "in_job_store": True}
    assert JobDefinition.objects.get(job_id="p").paused is True
    assert DjangoJob.objects.get(id="p").next_run_time is None
    assert store_job.store.lookup_job("p").next_run_time is None
    # Pausing again changes nothing and still succeeds.
    assert data_of(post(client, "p", "pause"))["paused"] is True


def test_it_resumes_with_the_next_fire_time_of_the_trigger(token_client, make_job, store_job):
    """Resume clears the flag and sets the next run time the job's trigger gives."""
    client = token_client(VIEW, CHANGE)
    make_job("r", paused=True)
    job = store_job("r", seconds=60, paused=True)
    before = timezone.now()
    data = data_of(post(client, "r", "resume"))
    stored = DjangoJob.objects.get(id="r")
    expected = job.trigger.get_next_fire_time(None, datetime.now(UTC))
    assert stored.next_run_time is not None
    assert before < stored.next_run_time <= before + timedelta(seconds=61)
    assert abs((stored.next_run_time - expected).total_seconds()) < 2
    assert store_job.store.lookup_job("r").next_run_time == stored.next_run_time
    assert data == {
        "job_id": "r",
        "paused": False,
        "next_run_time": iso_utc(stored.next_run_time),
        "in_job_store": True,
    }
    assert JobDefinition.objects.get(job_id="r").paused is False


def test_it_flags_a_job_the_store_does_not_hold_yet(token_client, make_job):
    """Without a stored job only the flag changes; the scheduler applies it at start."""
    client = token_client(VIEW, CHANGE)
    make_job("unstored")
    data = data_of(post(client, "unstored", "pause"))
    assert data == {
        "job_id": "unstored",
        "paused": True,
        "next_run_time": None,
        "in_job_store": False,
    }
    assert data_of(post(client, "unstored", "resume"))["paused"] is False


def test_it_answers_404_for_removed_or_unknown_jobs(token_client, make_job):
    """Removed and unknown jobs are 404 and stay as they were."""
    client = token_client(VIEW, CHANGE)
    make_job("gone", removed=True)
    for action in ("pause", "resume"):
        for job_id in ("gone", "nope"):
            assert error_of(post(client, job_id, action), 404)["data"]["field"] == "job_id"
    assert JobDefinition.objects.get(job_id="gone").paused is False


def test_it_refuses_get(token_client, make_job):
    """GET on pause is a 405."""
    make_job("p")
    error_of(token_client(VIEW, CHANGE).get("/api/v1/scheduler/jobs/p/pause"), 405)
