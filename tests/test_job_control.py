"""Job control: trigger requests."""

from scheduler_monitor import job_control
from scheduler_monitor.models import TriggerRequest, TriggerStatus


def test_a_trigger_request_is_claimed_once(make_job):
    job = make_job("triggered")
    request = TriggerRequest.objects.create(job=job)
    assert [r.pk for r in job_control.trigger_requests_claim()] == [request.pk]
    assert job_control.trigger_requests_claim() == []
    request.refresh_from_db()
    assert request.status == TriggerStatus.RUNNING
    assert request.picked_at is not None
