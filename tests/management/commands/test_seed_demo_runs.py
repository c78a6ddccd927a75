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


def test_seeded_history_matches_the_live_jobs_so_a_fresh_demo_has_no_slow_p95_alert(db):
    """Seed, then ten minutes of runs as the live demo jobs produce them: no p95 alert."""
    import random
    from datetime import timedelta

    from django.utils import timezone

    from project.demo_jobs import DEMO_JOBS, simulated_duration_ms
    from scheduler_monitor.alert_rules import firing_alerts
    from scheduler_monitor.recording import FinishedRun, write_finished_runs

    call_command("seed_demo_runs", "--days", "2", "--seed", "11")
    now = timezone.now()
    random.seed(5)  # the live jobs draw from the module's random
    live = []
    for job_id, _name, _owner, _category, seconds, typical, _failure in DEMO_JOBS:
        recent = JobRun.objects.filter(
            job__job_id=job_id, started_at__gte=now - timedelta(hours=1)
        ).count()
        assert abs(recent - 3600 / seconds) <= 2, job_id  # the job's own cadence lately
        for k in range(1, 600 // seconds + 1):
            at = now + timedelta(seconds=k * seconds)
            duration = simulated_duration_ms(typical)
            live.append(
                FinishedRun(
                    job_id=job_id,
                    status=RunStatus.SUCCESS,
                    scheduled_at=at,
                    started_at=at,
                    finished_at=at + timedelta(milliseconds=duration),
                    duration_ms=duration,
                )
            )
    write_finished_runs(live)
    p95_alerts = [a for a in firing_alerts(now=now + timedelta(minutes=10)) if a.kind == "p95"]
    assert p95_alerts == []
    job = JobDefinition.objects.get(job_id="generate_invoices")  # 1200 ms typical
    seeded = sorted(
        JobRun.objects.filter(job=job, hostname="seed").values_list("duration_ms", flat=True)
    )
    assert 1000 < seeded[len(seeded) // 2] < 1400  # median: the live job's typical time
