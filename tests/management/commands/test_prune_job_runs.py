"""prune_job_runs also deletes incidents resolved before the kept days (dry run: counts them)."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from scheduler_monitor.models import Incident, IncidentEvent

pytestmark = pytest.mark.django_db


def resolved_incident(key: str, days_ago: int) -> Incident:
    at = timezone.now() - timedelta(days=days_ago)
    incident = Incident.objects.create(
        key=key,
        rule="failing",
        kind="consecutive_failures",
        severity="critical",
        message="m",
        opened_at=at - timedelta(hours=1),
        last_fired_at=at,
        state="resolved",
        resolved_at=at,
    )
    IncidentEvent.objects.create(incident=incident, kind="resolved", at=at)
    return incident


def prune(*args) -> str:
    out = io.StringIO()
    call_command("prune_job_runs", "--days", "30", *args, stdout=out)
    return out.getvalue()


def test_it_deletes_resolved_incidents_older_than_the_kept_days():
    resolved_incident("old", days_ago=45)
    resolved_incident("recent", days_ago=5)
    assert "Would delete 1 resolved incident(s)." in prune("--dry-run")
    assert Incident.objects.count() == 2
    assert "Deleted 1 resolved incident(s)." in prune()
    assert list(Incident.objects.values_list("key", flat=True)) == ["recent"]
    assert IncidentEvent.objects.count() == 1


def test_keep_failures_days_keeps_incidents_as_long_as_failures():
    resolved_incident("old", days_ago=45)
    assert "Deleted 0 resolved incident(s)." in prune("--keep-failures-days", "90")
    assert Incident.objects.count() == 1
