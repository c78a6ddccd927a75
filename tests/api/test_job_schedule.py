"""PATCH /api/v1/scheduler/jobs/{job_id} and POST .../schedule/reset: runtime overrides."""

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger

from scheduler_monitor import jobs
from scheduler_monitor.models import AuditEntry, JobDefinition
from scheduler_monitor.registry import JobSpec
from tests.api.helpers import CHANGE, VIEW, data_of, error_of

P = "/api/v1/scheduler"


def noop():
    """Do nothing."""


@pytest.fixture
def declared(db):
    """Job 'sync' declared every 5 minutes with a 30 s grace, synced as the scheduler does."""
    jobs.job_definitions_sync(
        specs=[
            JobSpec(job_id="sync", name="Sync", func=noop, interval_seconds=300, grace_seconds=30)
        ]
    )
    return JobDefinition.objects.get(job_id="sync")


@pytest.fixture
def changer(token_client):
    return token_client(VIEW, CHANGE)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_it_overrides_a_cron_and_answers_the_next_five_fire_times(changer, declared):
    """The effective schedule, interval and description change; the declaration is kept."""
    data = data_of(changer.patch(f"{P}/jobs/sync", {"cron": "0 */2 * * *"}, format="json"))
    assert data["schedule"] == "cron 0 */2 * * *"
    assert data["declared_schedule"] == "every 5min"
    assert data["overridden"] is True and data["overrides"] == {"cron": "0 */2 * * *"}
    assert data["expected_interval_seconds"] == 7200.0
    fires = [parse(t) for t in data["next_fire_times"]]
    # Reference: APScheduler's own cron trigger, stepped from now.
    trigger = CronTrigger.from_crontab("0 */2 * * *", timezone=UTC)
    expected, previous = [], None
    moment = fires[0] - timedelta(seconds=1)
    for _ in range(5):
        previous = trigger.get_next_fire_time(previous, moment)
        expected.append(previous)
        moment = previous + timedelta(microseconds=1)
    assert fires == expected
    assert all(t.minute == 0 and t.hour % 2 == 0 for t in fires)
    job = JobDefinition.objects.get(job_id="sync")
    assert (job.schedule, job.expected_interval_seconds) == ("cron 0 */2 * * *", 7200.0)
    assert job.declared["schedule"] == "every 5min" and job.declared["seconds"] == 300
    listed = data_of(changer.get(f"{P}/jobs"))["jobs"][0]
    assert (listed["overridden"], listed["declared_schedule"]) == (True, "every 5min")
    assert listed["expected_interval_seconds"] == 7200.0
    assert listed["grace_seconds"] == 30.0  # the declared grace still applies


def test_overdue_follows_the_overridden_interval_at_once(changer, db, store_job):
    """Without a declared grace, the default grace is a tenth of the effective interval."""
    jobs.job_definitions_sync(
        specs=[JobSpec(job_id="tick", name="Tick", func=noop, interval_seconds=60)]
    )
    store_job("tick", seconds=60)
    assert data_of(changer.get(f"{P}/jobs"))["jobs"][0]["grace_seconds"] == 60.0  # the minimum
    data_of(changer.patch(f"{P}/jobs/tick", {"seconds": 3600}, format="json"))
    listed = data_of(changer.get(f"{P}/jobs"))["jobs"][0]
    assert (listed["expected_interval_seconds"], listed["grace_seconds"]) == (3600.0, 360.0)


def test_it_refuses_a_bad_cron_naming_the_field_and_changes_nothing(changer, declared):
    """A bad crontab is a 400 with data.field == cron; the row and the audit stay as they were."""
    before = JobDefinition.objects.values().get(job_id="sync")
    for body, field in (
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "every day"}, "cron"),
        ({"cron": 5}, "cron"),
        ({"seconds": 0}, "seconds"),
        ({"seconds": "10"}, "seconds"),
        ({"grace_seconds": -1}, "grace_seconds"),
        ({"retries": 99}, "retries"),
        ({"retries": True}, "retries"),
        ({"cron": "* * * * *", "seconds": 5}, "cron"),
        ({"colour": "red"}, "colour"),
        ({"seconds": 0.5}, "seconds"),
        ({"timeout_seconds": 1e12}, "timeout_seconds"),
    ):
        payload = error_of(changer.patch(f"{P}/jobs/sync", body, format="json"), 400)
        assert payload["data"]["field"] == field, body
        assert field in payload["message"]
    error_of(changer.patch(f"{P}/jobs/sync", [1, 2], format="json"), 400)
    # An empty object changes nothing and answers the current state.
    assert data_of(changer.patch(f"{P}/jobs/sync", {}, format="json"))["overridden"] is False
    assert JobDefinition.objects.values().get(job_id="sync") == before
    assert not AuditEntry.objects.exists()


def test_it_changes_limits_and_resets_to_the_declaration_with_audit_entries(changer, declared):
    """Interval, grace, timeout, retries; reset drops them all. Each call leaves an entry."""
    body = {"seconds": 20, "grace_seconds": 90, "timeout_seconds": 15, "retries": 2}
    data = data_of(changer.patch(f"{P}/jobs/sync", body, format="json"))
    assert (data["schedule"], data["grace_seconds"], data["timeout_seconds"]) == (
        "every 20s",
        90.0,
        15.0,
    )
    fires = [parse(t) for t in data["next_fire_times"]]
    assert [(b - a).total_seconds() for a, b in zip(fires, fires[1:], strict=False)] == [20.0] * 4
    # null clears one override only
    data = data_of(changer.patch(f"{P}/jobs/sync", {"grace_seconds": None}, format="json"))
    assert data["grace_seconds"] == 30.0 and data["overrides"] == {
        "seconds": 20.0,
        "timeout_seconds": 15.0,
        "retries": 2,
    }
    data = data_of(changer.post(f"{P}/jobs/sync/schedule/reset"))
    assert (data["schedule"], data["overridden"], data["overrides"]) == ("every 5min", False, {})
    assert (data["timeout_seconds"], data["retries"], data["grace_seconds"]) == (None, 0, 30.0)
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["schedule_change", "schedule_change", "schedule_reset"]
    assert entries[0].before["schedule"] == "every 5min" and entries[0].before["overrides"] == {}
    assert entries[0].after["schedule"] == "every 20s"
    assert entries[0].after["overrides"]["timeout_seconds"] == 15.0
    assert entries[2].before["schedule"] == "every 20s"
    assert entries[2].after == {
        "schedule": "every 5min",
        "grace_seconds": 30.0,
        "max_runtime_seconds": None,
        "timeout_seconds": None,
        "retries": 0,
        "retry_backoff_seconds": 10.0,
        "overrides": {},
    }


def test_the_declaration_sync_keeps_the_override(changer, declared):
    """A scheduler restart re-syncs the declaration: the override still applies."""
    data_of(changer.patch(f"{P}/jobs/sync", {"seconds": 45}, format="json"))
    jobs.job_definitions_sync(
        specs=[JobSpec(job_id="sync", name="Sync", func=noop, interval_seconds=600)]
    )
    job = JobDefinition.objects.get(job_id="sync")
    assert (job.schedule, job.expected_interval_seconds) == ("every 45s", 45.0)
    assert job.declared["schedule"] == "every 10min"
    data = data_of(changer.post(f"{P}/jobs/sync/schedule/reset"))
    assert data["schedule"] == "every 10min"


def test_it_answers_404_for_unknown_and_removed_jobs(changer, make_job):
    make_job("gone", removed=True)
    for job_id in ("nope", "gone", "bad%20id"):
        error_of(changer.patch(f"{P}/jobs/{job_id}", {"seconds": 5}, format="json"), 404)
        error_of(changer.post(f"{P}/jobs/{job_id}/schedule/reset"), 404)


def test_a_host_jobs_schedule_and_retries_stay_the_hosts(changer, make_job):
    """A job found in the host's scheduler: limits may change, its trigger and retries not."""
    make_job("host_job", source="discovered", schedule="every 1min")
    for body, field in (({"seconds": 30}, "seconds"), ({"retries": 2}, "retries")):
        payload = error_of(changer.patch(f"{P}/jobs/host_job", body, format="json"), 400)
        assert payload["data"]["field"] == field
        assert "@monitored_job" in payload["message"]
    data = data_of(changer.patch(f"{P}/jobs/host_job", {"timeout_seconds": 60}, format="json"))
    assert (data["timeout_seconds"], data["schedule"]) == (60.0, "every 1min")
