"""POST jobs/{job_id}/trigger and GET triggers/{id}: queue a manual run, see its state."""

from datetime import UTC, datetime

import pytest
import time_machine

from scheduler_monitor import scheduler_instances
from scheduler_monitor.models import RunStatus, TriggerRequest, TriggerStatus
from scheduler_monitor.timestamps import iso_utc
from tests.api.helpers import TRIGGER, VIEW, data_of, error_of


def url(job_id):
    return f"/api/v1/scheduler/jobs/{job_id}/trigger"


@pytest.fixture
def triggerer(token_client):
    return token_client(VIEW, TRIGGER)


def test_it_accepts_a_trigger_with_202_and_a_pending_request(triggerer, make_job):
    """202, the pending request in data, and a Location pointing at it."""
    job = make_job("nightly")
    response = triggerer.post(url("nightly"))
    data = data_of(response, 202, "accepted")
    request = TriggerRequest.objects.get()
    assert request.job == job and request.status == TriggerStatus.PENDING
    assert request.requested_by == triggerer.user.username
    assert response["Location"] == data["url"] == f"/api/v1/scheduler/triggers/{request.pk}"
    assert data["scheduler_running"] is False
    assert data["trigger"] == {
        "id": request.pk,
        "job_id": "nightly",
        "status": "pending",
        "requested_at": iso_utc(request.requested_at),
        "requested_by": triggerer.user.username,
        "allow_concurrent": False,
        "picked_at": None,
        "finished_at": None,
        "error": "",
        "run": None,
    }


def test_it_refuses_with_409_while_running_or_queued(triggerer, make_job, record_run):
    """A pending request or a running run blocks another trigger unless allow_concurrent."""
    job = make_job("busy")
    data_of(triggerer.post(url("busy")), 202, "accepted")
    payload = error_of(triggerer.post(url("busy")), 409)
    assert "pending trigger request" in payload["message"]
    assert "allow_concurrent" in payload["message"]
    assert payload["data"] == {"field": "job_id", "job_id": "busy"}
    TriggerRequest.objects.update(status=TriggerStatus.DONE)
    record_run(job, status=RunStatus.RUNNING, duration_ms=None)
    assert "is running" in error_of(triggerer.post(url("busy")), 409)["message"]
    data = data_of(triggerer.post(url("busy") + "?allow_concurrent=1"), 202, "accepted")
    assert data["trigger"]["allow_concurrent"] is True
    data = data_of(
        triggerer.post(url("busy"), {"allow_concurrent": True}, format="json"), 202, "accepted"
    )
    assert TriggerRequest.objects.count() == 3


def test_it_answers_404_for_removed_or_unknown_jobs(triggerer, make_job):
    """Removed and unknown jobs cannot be triggered; nothing is queued."""
    make_job("old", removed=True)
    for job_id in ("old", "never", "bad%20id"):
        assert error_of(triggerer.post(url(job_id)), 404)["data"]["field"] == "job_id"
    assert not TriggerRequest.objects.exists()


def test_it_rejects_bad_input(triggerer, make_job):
    """A bad allow_concurrent or a malformed JSON body is a 400; nothing is queued."""
    make_job("j")
    payload = error_of(triggerer.post(url("j") + "?allow_concurrent=maybe"), 400)
    assert payload["data"]["field"] == "allow_concurrent"
    payload = error_of(
        triggerer.post(url("j"), data="{not json", content_type="application/json"), 400
    )
    assert "JSON parse error" in payload["message"]
    assert not TriggerRequest.objects.exists()
    assert error_of(triggerer.get(url("j")), 405)["data"] is None


def test_it_shows_a_trigger_request_and_its_run(reader, make_job, record_run):
    """GET triggers/{id} shows the state and the linked run."""
    job = make_job("t")
    run_id = record_run(job)
    request = TriggerRequest.objects.create(job=job, status=TriggerStatus.DONE, run_id=run_id)
    data = data_of(reader.get(f"/api/v1/scheduler/triggers/{request.pk}"))
    assert data["status"] == "done" and data["job_id"] == "t"
    assert data["run"]["id"] == run_id and data["run"]["status"] == "success"
    assert error_of(reader.get("/api/v1/scheduler/triggers/999999"), 404)["data"] == {"field": "id"}
    assert error_of(reader.get("/api/v1/scheduler/triggers/abc"), 404)
    assert error_of(reader.get(f"/api/v1/scheduler/triggers/{2**64}"), 404)["data"] == {
        "field": "id"
    }


def test_it_says_whether_a_scheduler_will_pick_the_trigger_up(triggerer, make_job):
    """scheduler_running follows the lease: a live standby alone picks nothing up."""
    make_job("nightly")
    with time_machine.travel(datetime(2026, 6, 15, 12, 0, tzinfo=UTC), tick=False) as frozen:
        holder = scheduler_instances.scheduler_instance_start()
        standby = scheduler_instances.scheduler_instance_start()
        assert scheduler_instances.scheduler_lease_acquire(instance=holder)
        assert data_of(triggerer.post(url("nightly")), 202, "accepted")["scheduler_running"]
        TriggerRequest.objects.all().delete()
        frozen.shift(
            scheduler_instances.lease_ttl_seconds() + 1
        )  # the holder died; the standby lives
        scheduler_instances.scheduler_instance_heartbeat(instance=standby)
        data = data_of(triggerer.post(url("nightly")), 202, "accepted")
        assert data["scheduler_running"] is False
