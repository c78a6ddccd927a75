"""seed_demo_runs writes a history whose counters, last fields and window agree with rows."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from scheduler_monitor.jobs import job_window_statistics
from scheduler_monitor.models import FAILED_STATUSES, JobDefinition, JobRun, RunStatus
from scheduler_monitor.stats import summarise


def test_it_seeds_consistent_history_for_every_declared_job(db, capsys):
    call_command("seed_demo_runs", "--days", "2", "--seed", "7")
    out = capsys.readouterr().out
    jobs = JobDefinition.objects.all()
    assert jobs.count() == 32
    assert f"Seeded {JobRun.objects.count()} runs of 32 jobs" in out
    for job in jobs:
        runs = JobRun.objects.filter(job=job)
        failures = runs.filter(status__in=FAILED_STATUSES).count()
        assert job.failure_count == failures
        assert job.success_count == runs.filter(status=RunStatus.SUCCESS).count()
        assert job.duration_sum_ms == pytest.approx(runs.aggregate(s=Sum("duration_ms"))["s"])
        latest = runs.order_by("-started_at").first()
        assert job.last_run_at == latest.started_at
        assert job.last_status == latest.status
        durations = list(runs.order_by("started_at").values_list("duration_ms", flat=True))
        assert job_window_statistics(job_id=job.job_id) == summarise(durations[-1000:])


def test_it_does_nothing_with_if_empty_when_runs_exist(db, capsys):
    call_command("seed_demo_runs", "--days", "1")
    count = JobRun.objects.count()
    call_command("seed_demo_runs", "--days", "1", "--if-empty")
    assert JobRun.objects.count() == count
    assert "nothing seeded" in capsys.readouterr().out


@pytest.mark.parametrize("days", ["0", "-3", "91"])
def test_it_refuses_days_out_of_range(db, days):
    with pytest.raises(CommandError, match="--days must be between 1 and 90"):
        call_command("seed_demo_runs", "--days", days)
    assert JobRun.objects.count() == 0


def test_it_refuses_non_numeric_days(db):
    with pytest.raises(CommandError, match="invalid int value"):
        call_command("seed_demo_runs", "--days", "week")


def test_it_records_the_gateway_time_of_the_notification_job(db):
    """The seeded notification runs carry the gateway measurement the dashboard shows."""
    call_command("seed_demo_runs", "--days", "1", "--seed", "3")
    notify = JobRun.objects.filter(job__job_id="send_alert_notifications")
    assert notify.exists()
    for run in notify:
        assert (
            0.4 * run.duration_ms
            <= run.measurements["gateway_response_ms"]
            <= 0.8 * run.duration_ms
        )
    other = JobRun.objects.exclude(job__job_id="send_alert_notifications").first()
    assert other.measurements == {}
