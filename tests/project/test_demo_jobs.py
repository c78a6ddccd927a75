"""The demo declares ~32 lively jobs over ~8 categories; the notifier measures its gateway."""

import pytest

from project import demo_jobs
from scheduler_monitor.models import JobRun
from scheduler_monitor.recording import get_recorder
from scheduler_monitor.registry import registry


def test_it_declares_about_thirty_two_jobs_in_eight_categories():
    specs = [s for s in registry.all() if s.callable_path.startswith("project.demo_jobs.")]
    assert len(specs) == 32
    assert len({s.category for s in specs}) == 8
    health = registry.get("calculate_project_health")
    assert (health.name, health.category) == ("计算项目健康度", "Project Health")
    assert registry.get("send_alert_notifications").category == "Notifications"
    assert all(s.interval_seconds <= 60 for s in specs)


def test_the_notification_job_records_its_gateway_response_time(make_job, monkeypatch):
    monkeypatch.setattr(demo_jobs.random, "random", lambda: 0.99)  # no random failure
    monkeypatch.setattr(demo_jobs, "simulated_duration_ms", lambda typical: 5.0)
    make_job("send_alert_notifications")
    spec = registry.get("send_alert_notifications")
    get_recorder().execute(spec.job_id, spec.func)
    run = JobRun.objects.get()
    assert run.status == "success"
    assert run.measurements == {"gateway_response_ms": pytest.approx(5.0)}


def test_a_demo_job_fails_with_a_real_exception_sometimes(make_job, monkeypatch):
    monkeypatch.setattr(demo_jobs.random, "random", lambda: 0.0)
    monkeypatch.setattr(demo_jobs, "simulated_duration_ms", lambda typical: 1.0)
    make_job("sync_jira_issues")
    get_recorder().execute("sync_jira_issues", registry.get("sync_jira_issues").func)
    assert JobRun.objects.get().error.startswith("DemoJobError: sync_jira_issues: ")
