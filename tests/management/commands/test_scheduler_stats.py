"""scheduler_stats prints every job's numbers as a table or as JSON."""

import json
import statistics

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture
def two_jobs(make_job, record_run):
    health = make_job("calculate_project_health", name="计算项目健康度", category="Project Health")
    notify = make_job("send_alert_notifications", name="Send alerts", category="Notifications")
    for duration in (100.0, 200.0, 300.0, 400.0):
        record_run(health, duration_ms=duration)
    record_run(notify, duration_ms=50.0)
    record_run(notify, status="failure", duration_ms=70.0, error="Boom")
    return health, notify


def test_it_prints_a_table_with_each_job(two_jobs, capsys):
    call_command("scheduler_stats")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "job",
        "name",
        "owner",
        "category",
        "runs",
        "success",
        "avg",
        "ms",
        "p95",
        "ms",
        "last",
    ]
    health_line = next(line for line in lines if line.startswith("calculate_project_health"))
    p95 = statistics.quantiles([100, 200, 300, 400], n=100, method="inclusive")[94]
    assert health_line.split()[-4:] == ["100.0%", "250.0", f"{p95:.1f}", "success"]
    assert "计算项目健康度" in health_line
    notify_line = next(line for line in lines if line.startswith("send_alert_notifications"))
    assert notify_line.split()[-5:] == ["2", "50.0%", "60.0", "69.0", "failure"]


def test_it_prints_the_same_numbers_as_json(two_jobs, capsys):
    call_command("scheduler_stats", "--json")
    items = {item["job_id"]: item for item in json.loads(capsys.readouterr().out)}
    notify = items["send_alert_notifications"]
    assert notify["success_count"] == 1
    assert notify["failure_count"] == 1
    assert notify["total_runs"] == 2
    assert notify["avg_duration_ms"] == 60.0
    assert notify["p95_duration_ms"] == pytest.approx(69.0)
    assert notify["last_status"] == "failure"
    assert notify["last_timestamp"].endswith("Z")
    assert items["calculate_project_health"]["job_name"] == "计算项目健康度"


def test_it_says_so_when_no_job_exists(db, capsys):
    call_command("scheduler_stats")
    assert "No jobs recorded yet." in capsys.readouterr().out


def test_it_rejects_an_unknown_option(db):
    with pytest.raises(CommandError):
        call_command("scheduler_stats", "--yaml")
