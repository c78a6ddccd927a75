"""GET /api/v1/scheduler/alerts: the firing alert rules and the overall status."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django_apscheduler.models import DjangoJob

from scheduler_monitor import scheduler_instances
from scheduler_monitor.models import RunStatus
from tests.api.helpers import data_of, error_of

URL = "/api/v1/scheduler/alerts"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
RULES = [
    {"name": "streak", "kind": "consecutive_failures", "count": 3, "severity": "critical"},
    {"name": "late", "kind": "overdue", "severity": "warning"},
    {"name": "down", "kind": "scheduler_down", "severity": "critical"},
]


def test_it_lists_firing_alerts_worst_first(reader, make_job, record_run, settings):
    """A failing streak (critical) and an overdue job (warning), field by field."""
    settings.SCHEDULER_MONITOR = {"ALERT_RULES": RULES}
    broken = make_job("broken", name="Broken job")
    flaky = make_job("flaky")
    make_job("late", name="Late job", expected_interval_seconds=3600)
    with time_machine.travel(NOW, tick=False):
        for minutes in (30, 20, 10):
            record_run(
                broken, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=minutes)
            )
        record_run(flaky, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=30))
        record_run(flaky, started_at=NOW - timedelta(minutes=20))
        record_run(flaky, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=10))
        DjangoJob.objects.create(id="late", next_run_time=NOW - timedelta(minutes=7), job_state=b"")
        instance = scheduler_instances.scheduler_instance_start()
        assert scheduler_instances.scheduler_lease_acquire(instance=instance)
        data = data_of(reader.get(URL))
    assert data == {
        "status": "critical",
        "evaluated_at": "2026-06-15T12:00:00Z",
        "total": 2,
        "critical": 1,
        "warning": 1,
        "alerts": [
            {
                "rule": "streak",
                "kind": "consecutive_failures",
                "severity": "critical",
                "message": "the last 3 runs failed",
                "job_id": "broken",
                "job_name": "Broken job",
                "value": 3.0,
                "threshold": 3.0,
            },
            {
                "rule": "late",
                "kind": "overdue",
                "severity": "warning",
                "message": "due 420 s ago (grace 360 s)",
                "job_id": "late",
                "job_name": "Late job",
                "value": 420.0,
                "threshold": 360.0,
            },
        ],
    }


def test_it_says_ok_when_nothing_fires(reader, make_job, record_run, settings):
    """Healthy jobs and a live scheduler: status ok and an empty list."""
    settings.SCHEDULER_MONITOR = {"ALERT_RULES": RULES}
    record_run(make_job("fine"))
    with time_machine.travel(NOW, tick=False):
        assert scheduler_instances.scheduler_lease_acquire(
            instance=scheduler_instances.scheduler_instance_start()
        )
        data = data_of(reader.get(URL))
    assert data == {
        "status": "ok",
        "evaluated_at": "2026-06-15T12:00:00Z",
        "total": 0,
        "critical": 0,
        "warning": 0,
        "alerts": [],
    }


def test_it_reports_a_scheduler_that_never_started(reader, db, settings):
    """No scheduler at all: the scheduler_down rule fires without a job."""
    settings.SCHEDULER_MONITOR = {"ALERT_RULES": RULES}
    data = data_of(reader.get(URL))
    assert data["status"] == "critical"
    assert data["alerts"] == [
        {
            "rule": "down",
            "kind": "scheduler_down",
            "severity": "critical",
            "message": "no scheduler has ever started",
            "job_id": None,
            "job_name": None,
            "value": None,
            "threshold": None,
        }
    ]


def test_it_matches_the_check_command_json(reader, make_job, record_run):
    """The endpoint and check_scheduler_alerts --json report the same alerts (default rules)."""
    job = make_job("broken")
    for _ in range(3):
        record_run(job, status=RunStatus.FAILURE)
    data = data_of(reader.get(URL))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("check_scheduler_alerts", "--json", stdout=out)
    assert exited.value.code == 2
    report = json.loads(out.getvalue())
    assert data["status"] == report["status"] == "critical"
    assert data["alerts"] == report["alerts"]
    assert {a["rule"] for a in data["alerts"]} == {"failing_repeatedly", "scheduler_down"}


def test_it_refuses_other_methods(writer):
    """POST is a 405 in the envelope."""
    assert "POST" in error_of(writer.post(URL, {}, format="json"), 405)["message"]
