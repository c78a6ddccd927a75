"""The admin's model pages: job list with badges and rates, batch actions, read-only runs."""

from django.urls import reverse

from scheduler_monitor.models import JobDefinition, TriggerRequest

CHANGELIST = "admin:scheduler_monitor_jobdefinition_changelist"


def test_it_lists_jobs_with_status_badge_and_success_rate(staff_client, dataset):
    """Each row shows the last status as a badge and the success rate from the counters."""
    html = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "alpha_job" in html
    assert "80.0%" in html  # alpha: 4 of 5
    assert "25.0%" in html  # beta: 1 of 4
    assert 'text-transform:uppercase">failure</span>' in html


def test_it_filters_jobs_by_owner(staff_client, dataset):
    """The owner filter keeps that team's jobs."""
    html = staff_client.get(reverse(CHANGELIST) + "?owner=Team+B").content.decode()
    assert "beta_job" in html
    assert "alpha_job" not in html


def post_action(client, action, *job_ids):
    pks = JobDefinition.objects.filter(job_id__in=job_ids).values_list("pk", flat=True)
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [str(pk) for pk in pks]},
        follow=True,
    )


def test_it_triggers_pauses_and_resumes_selected_jobs(staff_client, dataset):
    """The batch actions go through the same job control as the dashboard's buttons."""
    post_action(staff_client, "trigger_jobs", "alpha_job", "beta_job")
    assert sorted(TriggerRequest.objects.values_list("job__job_id", flat=True)) == [
        "alpha_job",
        "beta_job",
    ]
    post_action(staff_client, "pause_jobs", "alpha_job", "beta_job")
    assert set(JobDefinition.objects.filter(paused=True).values_list("job_id", flat=True)) == {
        "alpha_job",
        "beta_job",
        "gamma_job",
    }
    response = post_action(staff_client, "resume_jobs", "gamma_job")
    assert "Resumed 1 job." in response.content.decode()
    assert not JobDefinition.objects.get(job_id="gamma_job").paused


def test_it_hides_actions_from_staff_without_permission(viewer_client, dataset):
    """A staff user who may only view sees no trigger/pause/resume action."""
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.get(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_jobdefinition"))
    html = viewer_client.get(reverse(CHANGELIST)).content.decode()
    assert "alpha_job" in html
    assert "trigger_jobs" not in html
    assert "pause_jobs" not in html


def test_it_keeps_runs_read_only(staff_client, dataset):
    """Runs can be listed and filtered by category, never added or edited."""
    url = reverse("admin:scheduler_monitor_jobrun_changelist")
    html = staff_client.get(url + "?job__category=Search").content.decode()
    assert "gamma_job" in html
    assert "alpha_job" not in html
    assert staff_client.get(reverse("admin:scheduler_monitor_jobrun_add")).status_code == 403
