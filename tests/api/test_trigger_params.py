"""POST jobs/{job_id}/trigger with {"params": {...}}: checked against the declared params."""

import pytest

from scheduler_monitor import jobs
from scheduler_monitor.models import AuditEntry, JobDefinition, TriggerRequest
from scheduler_monitor.registry import JobSpec
from tests.api.helpers import TRIGGER, VIEW, data_of, error_of

P = "/api/v1/scheduler"


def noop(**kwargs):
    """Do nothing."""


@pytest.fixture
def declared_jobs(db):
    jobs.job_definitions_sync(
        specs=[
            JobSpec(
                job_id="cleanup",
                name="Cleanup",
                func=noop,
                interval_seconds=60,
                params={"days": int, "ratio": float, "label": str, "dry_run": bool},
            ),
            JobSpec(job_id="plain", name="Plain", func=noop, interval_seconds=60),
        ]
    )


def trigger(client, job_id, params):
    return client.post(f"{P}/jobs/{job_id}/trigger", {"params": params}, format="json")


def test_it_stores_checked_arguments_on_the_request_and_the_audit(token_client, declared_jobs):
    client = token_client(VIEW, TRIGGER)
    data = data_of(trigger(client, "cleanup", {"days": 3, "ratio": 1, "dry_run": True}), 202, None)
    assert data["trigger"]["params"] == {"days": 3, "ratio": 1.0, "dry_run": True}
    assert TriggerRequest.objects.get().params == {"days": 3, "ratio": 1.0, "dry_run": True}
    assert AuditEntry.objects.get().after["params"] == {"days": 3, "ratio": 1.0, "dry_run": True}
    listed = data_of(client.get(f"{P}/jobs/cleanup"))
    assert listed["params"] == {"days": "int", "ratio": "float", "label": "str", "dry_run": "bool"}


@pytest.mark.parametrize(
    ("job_id", "params", "field"),
    [
        ("cleanup", {"days": "3"}, "params.days"),
        ("cleanup", {"days": 1.5}, "params.days"),
        ("cleanup", {"days": True}, "params.days"),
        ("cleanup", {"dry_run": 1}, "params.dry_run"),
        ("cleanup", {"label": 7}, "params.label"),
        ("cleanup", {"weeks": 2}, "params.weeks"),
        ("cleanup", [1], "params"),
        ("plain", {"days": 3}, "params"),
    ],
)
def test_it_refuses_bad_arguments_naming_them(token_client, declared_jobs, job_id, params, field):
    """Wrong type, unknown name, not an object, or a job without params: 400, nothing queued."""
    payload = error_of(trigger(token_client(VIEW, TRIGGER), job_id, params), 400)
    assert payload["data"]["field"] == field
    assert not TriggerRequest.objects.exists() and not AuditEntry.objects.exists()
    if job_id == "plain":
        assert "declares no parameters" in payload["message"]


def test_a_job_without_params_still_triggers_without_arguments(token_client, declared_jobs):
    client = token_client(VIEW, TRIGGER)
    data_of(trigger(client, "plain", {}), 202, None)
    assert JobDefinition.objects.get(job_id="plain").params_schema == {}


@pytest.fixture
def schema_job(db):
    """A job whose arguments are a JSON schema."""
    jobs.job_definitions_sync(
        specs=[
            JobSpec(
                job_id="export",
                name="Export",
                func=noop,
                interval_seconds=60,
                params={
                    "type": "object",
                    "properties": {
                        "format": {"enum": ["csv", "json"]},
                        "limit": {"type": "integer", "minimum": 1},
                    },
                    "required": ["format"],
                    "additionalProperties": False,
                },
            )
        ]
    )


def test_a_json_schema_checks_the_arguments(token_client, schema_job):
    """Valid arguments are queued; each violation is a 400 naming the argument."""
    client = token_client(VIEW, TRIGGER)
    data_of(trigger(client, "export", {"format": "csv", "limit": 5}), 202, None)
    assert TriggerRequest.objects.get().params == {"format": "csv", "limit": 5}
    TriggerRequest.objects.all().delete()
    for params, field in (
        ({"format": "xml"}, "params.format"),
        ({"format": "csv", "limit": 0}, "params.limit"),
        ({"format": "csv", "limit": "5"}, "params.limit"),
        ({"limit": 5}, "params"),
        ({"format": "csv", "extra": 1}, "params"),
    ):
        payload = error_of(trigger(client, "export", params), 400)
        assert payload["data"]["field"] == field, params
    assert not TriggerRequest.objects.exists()
