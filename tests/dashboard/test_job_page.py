"""The job page: metadata, window statistics, charts, run history and the action buttons."""

import statistics
from datetime import timedelta

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from django.urls import reverse
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob

from scheduler_monitor.models import JobDefinition, TriggerRequest, TriggerStatus

from .html import parse


def job_url(job_id, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("scheduler_monitor_job", args=[job_id]) + (f"?{query}" if query else "")


def action_url(job_id, action):
    return reverse("scheduler_monitor_job_action", args=[job_id, action])


def store_job(job_id, seconds=60):
    """Put the job in django-apscheduler's store, as the scheduler process does."""
    job = Job(
        BackgroundScheduler(timezone="UTC"),  # never started: only lends its time zone
        id=job_id,
        func="scheduler_monitor.scheduler:run_monitored_job",
        args=(job_id,),
        kwargs={},
        trigger=IntervalTrigger(seconds=seconds, timezone="UTC"),
        executor="default",
        name=job_id,
        misfire_grace_time=30,
        coalesce=True,
        max_instances=1,
        next_run_time=timezone.now() + timedelta(seconds=seconds),
    )
    DjangoJobStore().add_job(job)


def test_it_shows_the_job_metadata_and_window_statistics(staff_client, dataset):
    """Owner, category, schedule, counts and the window p95 of the job appear on its page."""
    page = parse(staff_client.get(job_url("alpha_job")).content)
    text = page.by_id("content").text
    for expected in ("Alpha reports", "alpha_job", "Team A", "Billing", "every 1min"):
        assert expected in text
    stats = page.by_id("sm-job-stats")
    values = [
        float(dd.attrs["data-value"]) for dd in stats.find_all("dd") if "data-value" in dd.attrs
    ]
    assert values == [4, 1]  # successes, failures
    durations = [r[2] for r in dataset.runs_of("alpha_job")]
    p95 = statistics.quantiles(durations, n=100, method="inclusive")[94]
    assert f"{p95:.0f} ms" in stats.text


def test_it_draws_the_duration_chart_with_its_p95_line(staff_client, dataset):
    """One dot per recent run (failures marked) and a p95 line labelled with its value."""
    page = parse(staff_client.get(job_url("alpha_job")).content)
    chart = page.by_id("sm-duration-chart")
    dots = chart.find_all("circle")
    assert len(dots) == 5
    assert len([d for d in dots if "sm-dot-failed" in d.attrs["class"]]) == 1
    assert len(chart.find_all("line", class_="sm-p95")) == 1
    durations = [r[2] for r in dataset.runs_of("alpha_job")]
    p95 = statistics.quantiles(durations, n=100, method="inclusive")[94]
    assert f"p95 {p95:.0f} ms" in chart.text


def test_it_draws_hourly_successes_and_failures_for_seven_days(staff_client, dataset):
    """The bars sum to the job's runs in the last 7 days, failures apart."""
    page = parse(staff_client.get(job_url("beta_job")).content)
    chart = page.by_id("sm-outcome-chart")
    assert len(chart.find_all("rect", class_="sm-bar-fail")) >= 1
    week = [r for r in dataset.runs_of("beta_job") if dataset.now - r[3] < timedelta(days=7)]
    ok = sum(1 for r in week if r[1] == "success")
    failed = len(week) - ok
    assert f"{ok} ok, {failed} failed" in page.by_id("content").text


def test_it_pages_and_filters_the_run_history(staff_client, dataset, record_run):
    """25 runs a page, newest first; ?status= keeps one status; errors expand in <details>."""
    job = dataset.jobs["alpha_job"]
    for _ in range(30):
        record_run(job, started_at=timezone.now() - timedelta(days=2))
    first = parse(staff_client.get(job_url("alpha_job")).content).by_id("sm-run-table")
    assert len(first.find_all("tbody")[0].find_all("tr")) == 25
    second = parse(staff_client.get(job_url("alpha_job", page=2)).content).by_id("sm-run-table")
    assert len(second.find_all("tbody")[0].find_all("tr")) == 35 - 25
    failed = parse(staff_client.get(job_url("alpha_job", status="failure")).content)
    rows = failed.by_id("sm-run-table").find_all("tbody")[0].find_all("tr")
    assert len(rows) == 1
    details = rows[0].find_all("details")[0]
    assert "upstream returned HTTP 503" in details.text
    assert "Traceback (most recent call last)" in details.text


def test_it_answers_404_for_an_unknown_job(staff_client, db):
    """A job id that does not exist is a 404, not an empty page."""
    assert staff_client.get(job_url("nope")).status_code == 404
    assert staff_client.post(action_url("nope", "trigger")).status_code == 404


def test_it_shows_action_forms_with_csrf_tokens(staff_client, dataset):
    """Trigger, pause and the schedule form are POST forms carrying the CSRF token.

    A paused job offers resume.
    """
    page = parse(staff_client.get(job_url("alpha_job")).content)
    forms = page.by_id("content").find_all("form", method="post")
    assert {f.attrs["action"] for f in forms} == {
        action_url("alpha_job", "trigger"),
        action_url("alpha_job", "pause"),
        action_url("alpha_job", "schedule"),
    }
    for form in forms:
        assert form.find_all("input", name="csrfmiddlewaretoken")
    paused = parse(staff_client.get(job_url("gamma_job")).content)
    assert paused.by_id("sm-resume")


def test_it_refuses_a_post_without_csrf_token(dataset, client, django_user_model):
    """The actions are protected against cross-site requests."""
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(django_user_model.objects.create_superuser("root", "", "pw-root-12"))
    assert csrf_client.post(action_url("alpha_job", "trigger")).status_code == 403
    assert not TriggerRequest.objects.exists()


def test_it_triggers_a_run_through_a_pending_request(client, dataset, operator):
    """Trigger creates a pending TriggerRequest by the user, for the scheduler to pick up."""
    client.force_login(operator)
    response = client.post(action_url("alpha_job", "trigger"), follow=True)
    assert response.redirect_chain[-1][0] == job_url("alpha_job")
    request = TriggerRequest.objects.get()
    assert request.job.job_id == "alpha_job"
    assert request.status == TriggerStatus.PENDING
    assert request.requested_by == "operator"
    assert "requested" in response.content.decode()


def test_it_pauses_and_resumes_in_the_job_store(client, dataset, operator):
    """Pause clears the stored next run; resume sets it from the trigger again."""
    store_job("alpha_job", seconds=60)
    client.force_login(operator)
    client.post(action_url("alpha_job", "pause"))
    assert JobDefinition.objects.get(job_id="alpha_job").paused
    assert DjangoJob.objects.get(id="alpha_job").next_run_time is None
    assert DjangoJobStore().lookup_job("alpha_job").next_run_time is None

    before = timezone.now()
    client.post(action_url("alpha_job", "resume"))
    assert not JobDefinition.objects.get(job_id="alpha_job").paused
    next_run = DjangoJob.objects.get(id="alpha_job").next_run_time
    assert before < next_run <= before + timedelta(seconds=61)
    assert DjangoJobStore().lookup_job("alpha_job").next_run_time == next_run


@pytest.mark.parametrize("action", ["trigger", "pause", "resume"])
def test_it_refuses_actions_without_permission(viewer_client, dataset, action):
    """Staff without the permission get 403 and nothing changes."""
    response = viewer_client.post(action_url("alpha_job", action))
    assert response.status_code == 403
    assert not TriggerRequest.objects.exists()
    assert not JobDefinition.objects.get(job_id="alpha_job").paused
    page = parse(viewer_client.get(job_url("alpha_job")).content)
    assert not page.by_id("content").find_all("form", method="post")


def test_it_refuses_a_get_on_an_action(staff_client, dataset):
    """Actions change state, so GET is not allowed."""
    assert staff_client.get(action_url("alpha_job", "trigger")).status_code == 405


def test_it_reports_an_action_on_a_removed_job(staff_client, dataset):
    """A removed job cannot be triggered; the page says why."""
    JobDefinition.objects.filter(job_id="beta_job").update(removed=True)
    response = staff_client.post(action_url("beta_job", "trigger"), follow=True)
    assert "no longer declared" in response.content.decode()
    assert not TriggerRequest.objects.exists()


@pytest.mark.parametrize("action", ["trigger", "pause", "resume"])
def test_a_job_id_with_a_nul_is_a_404_on_the_page_and_its_actions(staff_client, make_job, action):
    """PostgreSQL refuses NUL in text: such an id is not looked up at all."""
    make_job("nul_job")
    assert staff_client.get("/scheduler-monitoring/jobs/nul%00job").status_code == 404
    response = staff_client.post(f"/scheduler-monitoring/jobs/nul%00job/{action}")
    assert response.status_code == 404
    assert not TriggerRequest.objects.exists()


def test_a_trigger_past_the_manual_run_limits_says_when_to_retry(
    client, dataset, operator, settings
):
    """The button obeys MANUAL_MAX_TOTAL like the API: no request, a message with the wait."""
    settings.SCHEDULER_MONITOR = {"MANUAL_MAX_PER_JOB": 1, "MANUAL_MAX_TOTAL": 1}
    other = JobDefinition.objects.exclude(job_id="alpha_job").first()
    TriggerRequest.objects.create(job=other)
    client.force_login(operator)
    response = client.post(action_url("alpha_job", "trigger"), follow=True)
    assert TriggerRequest.objects.count() == 1
    text = response.content.decode()
    assert "1 manual runs are queued or running (at most 1 at once); try again in " in text
