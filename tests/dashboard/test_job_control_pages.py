"""The job page's control parts: schedule form and reset, arguments, recent changes, audit."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from scheduler_monitor import jobs
from scheduler_monitor.models import AuditEntry, JobDefinition, TriggerRequest
from scheduler_monitor.registry import JobSpec

from .html import parse


def noop(days=1):
    """Do nothing."""


@pytest.fixture
def job(db):
    jobs.job_definitions_sync(
        specs=[
            JobSpec(
                job_id="rebuild",
                name="Rebuild",
                func=noop,
                interval_seconds=300,
                params={"days": int, "full": bool},
            )
        ]
    )
    return JobDefinition.objects.get(job_id="rebuild")


@pytest.fixture
def operator_client(client, db):
    user = User.objects.create_user("op", password="pw-op-12345", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="scheduler_monitor",
            codename__in=["trigger_job", "change_jobdefinition"],
        )
    )
    client.force_login(user)
    client.user = user
    return client


def page_of(client):
    response = client.get(reverse("scheduler_monitor_job", args=["rebuild"]))
    assert response.status_code == 200
    return parse(response.content)


def schedule_url(*parts):
    name = "scheduler_monitor_job_schedule" + ("_reset" if parts else "")
    return reverse(name, args=["rebuild"])


def test_it_overrides_shows_and_resets_the_schedule_from_the_page(operator_client, job):
    """Form → overridden badge with the declared schedule → one-click reset; audited."""
    response = operator_client.post(
        schedule_url(), {"seconds": "", "cron": "*/10 * * * *", "timeout_seconds": "40"}
    )
    assert response.status_code == 302
    page = page_of(operator_client)
    assert "cron */10 * * * *" in page.by_id("sm-schedule").text
    assert "overridden (declared: every 5min)" in page.by_id("sm-overridden").text
    assert page.by_id("sm-schedule-reset")
    assert len(page.find_all("span", **{"class": "sm-next-fire"})) == 5
    operator_client.post(schedule_url("reset"))
    job.refresh_from_db()
    assert (job.schedule, job.timeout_seconds, job.is_overridden) == ("every 5min", None, False)
    page = page_of(operator_client)
    assert not page.find_all(id="sm-overridden")
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.auth, e.username) for e in entries] == [
        ("schedule_change", "session", "op"),
        ("schedule_reset", "session", "op"),
    ]
    assert entries[0].after["schedule"] == "cron */10 * * * *"
    assert entries[0].address == "127.0.0.1"
    changes = page.by_id("sm-recent-changes").find_all("tr", **{"data-action": "schedule_reset"})
    assert len(changes) == 1


def test_it_refuses_a_bad_cron_from_the_form_and_changes_nothing(operator_client, job):
    """The same validation as the API: the message names the field, nothing changes."""
    response = operator_client.post(schedule_url(), {"cron": "99 * * * *"}, follow=True)
    assert "cron" in response.content.decode() and "Not changed" in response.content.decode()
    response = operator_client.post(schedule_url(), {"seconds": "ten"}, follow=True)
    assert "seconds: must be a number" in response.content.decode()
    job.refresh_from_db()
    assert (job.schedule, job.is_overridden) == ("every 5min", False)
    assert not AuditEntry.objects.exists()


def test_it_refuses_schedule_changes_without_the_permission(client, job):
    """A staff user without change_jobdefinition: 403, no form, no entry."""
    user = User.objects.create_user("viewer", password="pw-v-12345", is_staff=True)
    client.force_login(user)
    assert client.post(schedule_url(), {"seconds": "5"}).status_code == 403
    assert client.post(schedule_url("reset")).status_code == 403
    assert not page_of(client).find_all(id="sm-schedule-form")
    assert not AuditEntry.objects.exists()


def test_it_triggers_pauses_and_resumes_from_the_page_with_entries(operator_client, job):
    """Page actions write the same entries as the API, with session auth; params included."""
    url = lambda action: reverse("scheduler_monitor_job_action", args=["rebuild", action])  # noqa: E731
    operator_client.post(url("trigger"), {"param_days": "3", "param_full": "true"})
    operator_client.post(url("pause"))
    operator_client.post(url("resume"))
    request = TriggerRequest.objects.get()
    assert request.params == {"days": 3, "full": True}
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["trigger", "pause", "resume"]
    assert entries[0].after["params"] == {"days": 3, "full": True}
    assert {e.auth for e in entries} == {"session"}
    assert page_of(operator_client).by_id("sm-param-days")


def test_it_refuses_bad_arguments_from_the_page(operator_client, job):
    """A value of the wrong type is refused with its name; nothing is queued or audited."""
    url = reverse("scheduler_monitor_job_action", args=["rebuild", "trigger"])
    response = operator_client.post(url, {"param_days": "three"}, follow=True)
    assert "params.days: must be of type int" in response.content.decode().lower()
    assert not TriggerRequest.objects.exists() and not AuditEntry.objects.exists()


def test_the_admin_shows_entries_read_only(admin_client, job, operator_client):
    """The audit's admin lists entries; add, change and delete are refused even to a superuser."""
    operator_client.post(reverse("scheduler_monitor_job_action", args=["rebuild", "pause"]))
    entry = AuditEntry.objects.get()
    listing = admin_client.get(reverse("admin:scheduler_monitor_auditentry_changelist"))
    assert listing.status_code == 200 and b"pause" in listing.content
    assert b"delete_selected" not in listing.content
    change_url = reverse("admin:scheduler_monitor_auditentry_change", args=[entry.pk])
    detail = admin_client.get(change_url)
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert admin_client.post(change_url, {"action": "x"}).status_code == 403
    assert admin_client.get(reverse("admin:scheduler_monitor_auditentry_add")).status_code == 403
    delete_url = reverse("admin:scheduler_monitor_auditentry_delete", args=[entry.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        reverse("admin:scheduler_monitor_auditentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert AuditEntry.objects.get().action == "pause"


def test_the_job_table_shows_final_failures_retries_and_time_outs(admin_client, job):
    """Once a job retried or timed out, its row shows failures / retried / timed out."""
    JobDefinition.objects.filter(job_id="rebuild").update(
        failure_count=3, retried_count=5, timed_out_count=1, last_status="timed_out"
    )
    page = parse(admin_client.get(reverse("scheduler_monitor_dashboard")).content)
    row = page.find_all("tr", **{"data-job-id": "rebuild"})[0]
    assert row.find_all("span", **{"class": "sm-muted sm-attempts"})[0].text == "3 / 5 / 1"
    assert "sm-row-failing" in row.attrs["class"]


def test_the_admins_job_actions_write_entries(admin_client, job):
    """Pausing and triggering from the admin's job list leaves entries like the pages."""
    changelist = reverse("admin:scheduler_monitor_jobdefinition_changelist")
    for action in ("pause_jobs", "resume_jobs", "trigger_jobs"):
        response = admin_client.post(
            changelist, {"action": action, "_selected_action": [job.pk], "index": 0}
        )
        assert response.status_code == 302
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.job_id, e.username, e.auth) for e in entries] == [
        ("pause", job.pk, "admin", "session"),
        ("resume", job.pk, "admin", "session"),
        ("trigger", job.pk, "admin", "session"),
    ]


def test_the_heatmap_says_how_many_failures_timed_out(admin_client, job, record_run):
    """A timed-out run is a failure in its cell; the failing job's link says it timed out."""
    record_run(job, status="timed_out", duration_ms=2000.0)
    record_run(job, status="failure", duration_ms=5.0)
    page = parse(admin_client.get(reverse("scheduler_monitor_dashboard")).content)
    link = page.find_all("a", **{"class": "sm-heat-job", "data-job-id": "rebuild"})[0]
    assert link.attrs["data-failures"] == "2"
    assert "(1 timed out)" in link.text
