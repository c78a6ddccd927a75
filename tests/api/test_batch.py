"""POST jobs/batch: one action over many jobs with a result per job."""

import pytest
from django_apscheduler.models import DjangoJob

from scheduler_monitor.models import JobDefinition, TriggerRequest
from tests.api.helpers import CHANGE, TRIGGER, VIEW, data_of, error_of

URL = "/api/v1/scheduler/jobs/batch"


def test_it_triggers_each_job_and_reports_unknown_ones(writer, make_job):
    """Known jobs get a trigger request, an unknown id is reported, the others still run."""
    make_job("a")
    make_job("b")
    make_job("old", removed=True)
    body = {"action": "trigger", "job_ids": ["a", "nope", "b", "a", "old"]}
    data = data_of(writer.post(URL, body, format="json"))
    requests = {r.job.job_id: r.pk for r in TriggerRequest.objects.select_related("job")}
    assert data["action"] == "trigger"
    assert (data["succeeded"], data["failed"]) == (2, 2)
    assert [(r["job_id"], r["ok"], r["status"], r["trigger_id"]) for r in data["results"]] == [
        ("a", True, 202, requests["a"]),
        ("nope", False, 404, None),
        ("b", True, 202, requests["b"]),
        ("old", False, 404, None),
    ]
    assert "does not exist" in data["results"][1]["message"]
    # Triggering again: each is already queued.
    again = data_of(writer.post(URL, {"action": "trigger", "job_ids": ["a"]}, format="json"))
    assert again["results"][0]["status"] == 409


def test_it_pauses_and_resumes_many(writer, make_job, store_job):
    """pause and resume apply to every listed job, through the job store."""
    for job_id in ("x", "y"):
        make_job(job_id)
        store_job(job_id)
    data = data_of(writer.post(URL, {"action": "pause", "job_ids": ["x", "y"]}, format="json"))
    assert [r["message"] for r in data["results"]] == ["paused", "paused"]
    assert set(JobDefinition.objects.values_list("paused", flat=True)) == {True}
    assert set(DjangoJob.objects.values_list("next_run_time", flat=True)) == {None}
    data_of(writer.post(URL, {"action": "resume", "job_ids": ["x", "y"]}, format="json"))
    assert set(JobDefinition.objects.values_list("paused", flat=True)) == {False}
    assert None not in set(DjangoJob.objects.values_list("next_run_time", flat=True))


@pytest.mark.parametrize(
    "body,field",
    [
        ({"action": "explode", "job_ids": ["a"]}, "action"),
        ({"job_ids": ["a"]}, "action"),
        ({"action": "pause"}, "job_ids"),
        ({"action": "pause", "job_ids": []}, "job_ids"),
        ({"action": "pause", "job_ids": "a"}, "job_ids"),
        ({"action": "pause", "job_ids": [["a"]]}, "job_ids.0"),
        ({"action": "pause", "job_ids": ["a", 0]}, "job_ids.1"),
        ({"action": "pause", "job_ids": ["a"], "allow_concurrent": "true"}, "allow_concurrent"),
        ({"action": "pause", "job_ids": ["a"] * 501}, "job_ids"),
        (
            {"action": "trigger", "job_ids": ["a"], "allow_concurrent": "perhaps"},
            "allow_concurrent",
        ),
    ],
)
def test_it_rejects_a_bad_body_naming_the_field(writer, make_job, body, field):
    """A bad body is a 400 naming the field; nothing changes."""
    make_job("a")
    payload = error_of(writer.post(URL, body, format="json"), 400)
    assert payload["data"]["field"] == field
    assert not TriggerRequest.objects.exists()
    assert JobDefinition.objects.get(job_id="a").paused is False


def test_it_rejects_malformed_json(writer):
    """A body that is not JSON is a 400."""
    response = writer.post(URL, data='{"action": ', content_type="application/json")
    assert "JSON parse error" in error_of(response, 400)["message"]


def test_it_needs_the_permission_of_the_action(token_client, make_job):
    """trigger needs trigger_job, pause/resume need change_jobdefinition."""
    make_job("a")
    only_trigger = token_client(VIEW, TRIGGER)
    only_change = token_client(VIEW, CHANGE)
    pause = {"action": "pause", "job_ids": ["a"]}
    trigger = {"action": "trigger", "job_ids": ["a"]}
    assert (
        "change_jobdefinition"
        in error_of(only_trigger.post(URL, pause, format="json"), 403)["message"]
    )
    error_of(only_change.post(URL, trigger, format="json"), 403)
    data_of(only_trigger.post(URL, trigger, format="json"))
    data_of(only_change.post(URL, pause, format="json"))


def test_batch_triggers_obey_the_manual_run_limits(writer, make_job, settings):
    """Past MANUAL_MAX_TOTAL each further job gets its own 429 result with retry_after,
    and the response says when to retry in Retry-After."""
    settings.SCHEDULER_MONITOR = {"MANUAL_MAX_PER_JOB": 2, "MANUAL_MAX_TOTAL": 2}
    for job_id in ("a", "b", "c", "d"):
        make_job(job_id)
    body = {"action": "trigger", "job_ids": ["a", "b", "c", "d"], "allow_concurrent": True}
    response = writer.post(URL, body, format="json")
    data = data_of(response)
    assert [(r["job_id"], r["status"]) for r in data["results"]] == [
        ("a", 202),
        ("b", 202),
        ("c", 429),
        ("d", 429),
    ]
    waits = [r["retry_after"] for r in data["results"]]
    assert waits[:2] == [None, None] and all(w >= 1 for w in waits[2:])
    assert response["Retry-After"] == str(max(waits[2:]))
    assert (data["succeeded"], data["failed"]) == (2, 2)
    assert TriggerRequest.objects.count() == 2
