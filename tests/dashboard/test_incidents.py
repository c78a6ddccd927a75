"""The dashboard's incident banner (ack, resolve, silence) and the job page's incident history."""

from django.contrib.auth.models import User

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import AuditEntry, Incident, IncidentEvent, Silence

RULES = [
    {"name": "failing", "kind": "consecutive_failures", "severity": "critical"},
    {"name": "down", "kind": "scheduler_down", "severity": "critical"},
]
DASHBOARD = "/scheduler-monitoring"


def open_incidents(make_job):
    job = make_job("sync_jira", name="Sync Jira")
    incidents_evaluate(
        rules=RULES,
        alerts=[
            Alert(
                rule="failing",
                kind="consecutive_failures",
                severity="critical",
                message="the last 3 runs failed",
                job_id=job.job_id,
            ),
            Alert(rule="down", kind="scheduler_down", severity="critical", message="no beat"),
        ],
    )
    return {i.key: i for i in Incident.objects.all()}


def action_url(incident, action):
    return f"{DASHBOARD}/incidents/{incident.pk}/{action}"


def test_the_banner_lists_open_incidents_with_buttons_for_who_may(staff_client, make_job):
    found = open_incidents(make_job)
    body = staff_client.get(DASHBOARD).content.decode()
    assert 'id="sm-incidents"' in body
    assert "2 open incidents" in body
    for incident in found.values():
        assert f'data-incident-id="{incident.pk}"' in body
        assert action_url(incident, "ack") in body
        assert action_url(incident, "silence") in body
    fragments = staff_client.get(f"{DASHBOARD}/fragments").content.decode()
    assert 'id="sm-incidents" data-fragment' in fragments
    assert "the last 3 runs failed" in fragments


def test_a_refresh_with_incidents_and_their_buttons_is_a_304_when_nothing_changed(
    staff_client, make_job
):
    """The buttons' CSRF tokens are masked anew on each render; the ETag ignores them."""
    open_incidents(make_job)
    first = staff_client.get(f"{DASHBOARD}/fragments")
    assert "csrfmiddlewaretoken" in first.content.decode()
    again = staff_client.get(f"{DASHBOARD}/fragments", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    Incident.objects.filter(key="down").update(message="scheduler vm:1 last heartbeat 90 s ago")
    changed = staff_client.get(f"{DASHBOARD}/fragments", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert "last heartbeat 90 s ago" in changed.content.decode()


def test_a_viewer_sees_the_incidents_but_no_buttons(viewer_client, make_job):
    found = open_incidents(make_job)
    body = viewer_client.get(DASHBOARD).content.decode()
    assert f'data-incident-id="{found["down"].pk}"' in body
    assert "/ack" not in body and "/silence" not in body
    response = viewer_client.post(action_url(found["down"], "ack"))
    assert response.status_code == 403
    assert Incident.objects.get(key="down").acknowledged_at is None


def test_acknowledging_from_the_banner_records_who_and_where(client, operator, make_job):
    found = open_incidents(make_job)
    client.force_login(operator)
    response = client.post(
        action_url(found["down"], "ack"), {"next": DASHBOARD}, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    event = IncidentEvent.objects.get(kind="acknowledged")
    assert (event.actor, event.address) == ("operator", "198.51.100.4")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.username, entry.auth, entry.address, entry.target) == (
        "incident_acknowledge",
        "operator",
        "session",
        "198.51.100.4",
        f"incident {found['down'].pk}",
    )
    body = client.get(DASHBOARD).content.decode()
    assert "acknowledged by operator" in body


def test_silencing_from_the_banner_silences_the_job_for_the_chosen_time(client, operator, make_job):
    found = open_incidents(make_job)
    client.force_login(operator)
    client.post(action_url(found["failing:sync_jira"], "silence"), {"minutes": "240"})
    silence = Silence.objects.get()
    assert (silence.scope, silence.value, silence.created_by) == ("job", "sync_jira", "operator")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.username, entry.target) == (
        "silence_create",
        "operator",
        f"silence {silence.pk}",
    )
    assert (entry.after["scope"], entry.after["value"]) == ("job", "sync_jira")
    assert (silence.ends_at - silence.starts_at).total_seconds() == 240 * 60
    client.post(action_url(found["down"], "silence"), {"minutes": "60"})
    assert Silence.objects.filter(scope="rule", value="down").exists()
    body = client.get(DASHBOARD).content.decode()
    assert "Silenced now:" in body and "sync_jira" in body


def test_bad_actions_are_refused_cleanly(client, operator, make_job):
    found = open_incidents(make_job)
    client.force_login(operator)
    assert client.post(action_url(found["down"], "explode")).status_code == 404
    assert client.post(f"{DASHBOARD}/incidents/999999/ack").status_code == 404
    assert client.post(action_url(found["down"], "silence"), {"minutes": "7"}).status_code == 400
    assert client.get(action_url(found["down"], "ack")).status_code == 405
    response = client.post(action_url(found["down"], "ack"), {"next": "https://evil.example/"})
    assert response["Location"] == DASHBOARD
    assert not Silence.objects.exists()


def test_resolving_twice_says_it_is_resolved_already(client, operator, make_job):
    found = open_incidents(make_job)
    client.force_login(operator)
    client.post(action_url(found["down"], "resolve"))
    response = client.post(action_url(found["down"], "resolve"), follow=True)
    assert [str(m) for m in response.context["messages"]][-1].endswith("is resolved already")
    assert Incident.objects.get(key="down").resolved_by == "operator"


def test_the_job_page_lists_the_jobs_incidents(staff_client, make_job):
    found = open_incidents(make_job)
    body = staff_client.get("/scheduler-monitoring/jobs/sync_jira").content.decode()
    assert 'id="sm-incident-history"' in body
    assert f'data-incident-id="{found["failing:sync_jira"].pk}"' in body
    assert f'data-incident-id="{found["down"].pk}"' not in body
    other = make_job("quiet")
    assert other is not None
    quiet = staff_client.get("/scheduler-monitoring/jobs/quiet").content.decode()
    assert "No incident so far." in quiet


def test_a_staff_user_with_only_manage_incident_may_act(client, make_job):
    from django.contrib.auth.models import Permission

    found = open_incidents(make_job)
    user = User.objects.create_user("oncall", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_incident"))
    client.force_login(user)
    assert client.post(action_url(found["down"], "ack")).status_code == 302


def test_the_banner_speaks_chinese_with_a_chinese_browser(staff_client, make_job):
    open_incidents(make_job)
    body = staff_client.get(DASHBOARD, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "2 个未关闭的事件" in body
    assert "确认" in body and "静默" in body
    job_page = staff_client.get(
        "/scheduler-monitoring/jobs/sync_jira", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "事件" in job_page.content.decode()
