"""The dashboard shows the operations states: alerts banner, lease roles, overdue, stuck."""

import statistics
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation
from django_apscheduler.models import DjangoJob

from scheduler_monitor import retention, scheduler_instances
from scheduler_monitor.models import JobRun, RunStatus

from .html import parse

URL = "/scheduler-monitoring"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
RULES = [
    {"name": "streak", "kind": "consecutive_failures", "count": 3, "severity": "critical"},
    {"name": "late", "kind": "overdue", "severity": "warning"},
    {"name": "hung", "kind": "stuck", "severity": "warning"},
    {"name": "down", "kind": "scheduler_down", "severity": "critical"},
]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rules(settings):
    settings.SCHEDULER_MONITOR = {"ALERT_RULES": RULES}


def live_scheduler():
    """An instance holding the lease, so the scheduler_down rule stays quiet."""
    instance = scheduler_instances.scheduler_instance_start()
    assert scheduler_instances.scheduler_lease_acquire(instance=instance)
    return instance


def due(job_id: str, at: datetime | None) -> None:
    DjangoJob.objects.update_or_create(id=job_id, defaults={"next_run_time": at, "job_state": b""})


def rows_of(page) -> dict:
    table = page.by_id("sm-job-table")
    return {r.attrs["data-job-id"]: r for r in table.find_all("tr", class_="sm-row")}


def test_it_hides_the_banner_when_nothing_fires(staff_client, make_job, rules, frozen):
    """Healthy jobs and a live scheduler: the banner is present (for refreshes) but hidden."""
    make_job("fine")
    live_scheduler()
    banner = parse(staff_client.get(URL).content).by_id("sm-alerts")
    assert "hidden" in banner.attrs
    assert (banner.attrs["data-status"], banner.attrs["data-total"]) == ("ok", "0")
    assert banner.find_all("li") == []


def test_it_shows_critical_alerts_loudly_and_first(
    staff_client, make_job, record_run, rules, frozen
):
    """A failing streak (critical) and an overdue job (warning): red banner, critical first."""
    broken = make_job("broken", name="Broken")
    make_job("late", expected_interval_seconds=3600)
    for minutes in (30, 20, 10):
        record_run(broken, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=minutes))
    due("late", NOW - timedelta(minutes=7))
    live_scheduler()
    banner = parse(staff_client.get(URL).content).by_id("sm-alerts")
    assert "hidden" not in banner.attrs
    assert "sm-alerts-critical" in banner.attrs["class"]
    assert banner.attrs["role"] == "alert"
    assert "2 alerts firing" in banner.text
    items = [
        (li.attrs["data-severity"], li.attrs["data-rule"], li.attrs["data-job-id"], li.text)
        for li in banner.find_all("li")
    ]
    assert items == [
        ("critical", "streak", "broken", "critical broken streak the last 3 runs failed"),
        ("warning", "late", "late", "warning late late due 420 s ago (grace 360 s)"),
    ]
    link = banner.find_all("a")[0].attrs["href"]
    assert link == reverse("scheduler_monitor_job", args=["broken"])


def test_it_keeps_a_warning_only_banner_amber(staff_client, make_job, rules, frozen):
    """Only warnings: the banner is not the critical one and announces politely."""
    make_job("late", expected_interval_seconds=3600)
    due("late", NOW - timedelta(minutes=7))
    live_scheduler()
    banner = parse(staff_client.get(URL).content).by_id("sm-alerts")
    assert "sm-alerts-warning" in banner.attrs["class"]
    assert "sm-alerts-critical" not in banner.attrs["class"]
    assert banner.attrs["role"] == "status"
    assert [li.attrs["data-rule"] for li in banner.find_all("li")] == ["late"]


def test_it_names_a_down_scheduler_in_the_banner(staff_client, db, rules):
    """No scheduler ever started: a critical alert without a job."""
    banner = parse(staff_client.get(URL).content).by_id("sm-alerts")
    (item,) = banner.find_all("li")
    assert (item.attrs["data-rule"], item.attrs["data-job-id"]) == ("down", "")
    assert "no scheduler has ever started" in item.text


def test_it_marks_overdue_and_stuck_jobs_in_the_table(staff_client, make_job, rules, frozen):
    """Past its grace: an overdue badge; within it: none; stuck runs: a counted badge."""
    make_job("late", expected_interval_seconds=3600)
    make_job("within", expected_interval_seconds=3600)
    hung = make_job("hung", max_runtime_seconds=60)
    due("late", NOW - timedelta(minutes=7))
    due("within", NOW - timedelta(minutes=5))
    for seconds in (61, 120, 30):
        JobRun.objects.create(
            job=hung, status=RunStatus.RUNNING, started_at=NOW - timedelta(seconds=seconds)
        )
    live_scheduler()
    rows = rows_of(parse(staff_client.get(URL).content))
    assert {j: (r.attrs["data-overdue"], r.attrs["data-stuck"]) for j, r in rows.items()} == {
        "late": ("1", "0"),
        "within": ("0", "0"),
        "hung": ("0", "2"),
    }
    late_badges = rows["late"].find_all("span", class_="sm-badge-overdue")
    assert [b.text for b in late_badges] == ["overdue"]
    assert late_badges[0].attrs["title"] == "Due 420 s ago (grace 360 s)"
    assert rows["within"].find_all("span", class_="sm-badge-overdue") == []
    assert [b.text for b in rows["hung"].find_all("span", class_="sm-badge-stuck")] == ["2 stuck"]
    assert "sm-row-failing" in rows["late"].attrs["class"]
    assert "sm-row-failing" not in rows["within"].attrs["class"]


def test_it_shows_the_active_instance_and_standbys(staff_client, db, frozen):
    """The lease holder is named active, the other live instance standby."""
    first = scheduler_instances.scheduler_instance_start()
    second = scheduler_instances.scheduler_instance_start()
    assert scheduler_instances.scheduler_lease_acquire(instance=second)
    status = parse(staff_client.get(URL).content).by_id("sm-status")
    assert "sm-status-running" in status.attrs["class"]
    active = [el for el in status.iter() if el.attrs.get("id") == "sm-active"][0]
    assert active.find_all("dd")[0].attrs["data-value"] == str(second.pk)
    standby = [el for el in status.iter() if el.attrs.get("id") == "sm-standby"][0]
    assert [c.attrs["data-instance"] for c in standby.find_all("code")] == [str(first.pk)]
    assert f"{first.hostname}:{first.pid}" in standby.text


def test_it_says_stopped_when_only_a_standby_is_alive(staff_client, db, frozen):
    """The lease holder died: stopped, with the standby waiting to take over."""
    holder = scheduler_instances.scheduler_instance_start()
    standby = scheduler_instances.scheduler_instance_start()
    assert scheduler_instances.scheduler_lease_acquire(instance=holder)
    frozen.shift(scheduler_instances.lease_ttl_seconds() + 1)
    scheduler_instances.scheduler_instance_heartbeat(instance=standby)
    status = parse(staff_client.get(URL).content).by_id("sm-status")
    assert "sm-status-stopped" in status.attrs["class"]
    assert "a standby takes over when it expires" in status.text
    assert f"{standby.hostname}:{standby.pid}" in status.text


def test_it_shows_overdue_stuck_and_start_delay_on_the_job_page(staff_client, make_job, frozen):
    """The job page: overdue box, stuck runs, interval, grace and start delay figures."""
    job = make_job("slowpoke", expected_interval_seconds=3600, max_runtime_seconds=60)
    delays = [0.0, 150.0, 400.0, 900.0, 5000.0]
    for i, delay in enumerate(delays):
        started = NOW - timedelta(hours=1, minutes=i)
        JobRun.objects.create(
            job=job,
            status=RunStatus.SUCCESS,
            scheduled_at=started - timedelta(milliseconds=delay),
            started_at=started,
            duration_ms=10.0,
        )
    stuck = JobRun.objects.create(
        job=job, status=RunStatus.RUNNING, started_at=NOW - timedelta(seconds=75)
    )
    due("slowpoke", NOW - timedelta(minutes=7))
    page = parse(staff_client.get(reverse("scheduler_monitor_job", args=["slowpoke"])).content)
    assert "It was due 420 s ago" in page.by_id("sm-overdue-box").text
    assert page.by_id("sm-overdue").text == "overdue"
    (item,) = page.by_id("sm-stuck-box").find_all("li")
    assert (item.attrs["data-run-id"], item.attrs["data-running"]) == (str(stuck.pk), "75")
    assert float(page.by_id("sm-interval").attrs["data-value"]) == 3600
    assert float(page.by_id("sm-grace").attrs["data-value"]) == 360
    figures = [float(dd.attrs["data-value"]) for dd in page.by_id("sm-start-delay").find_all("dd")]
    p95 = statistics.quantiles(delays, n=100, method="inclusive")[94]
    assert figures == pytest.approx([statistics.fmean(delays), p95, 5000.0, 5])


def test_it_shows_no_overdue_or_stuck_box_for_a_healthy_job(staff_client, make_job, frozen):
    """On time and nothing running: no box, no badge, an empty start delay."""
    make_job("healthy", expected_interval_seconds=3600)
    due("healthy", NOW + timedelta(minutes=3))
    page = parse(staff_client.get(reverse("scheduler_monitor_job", args=["healthy"])).content)
    ids = {el.attrs.get("id") for el in page.iter()}
    assert not ids & {"sm-overdue", "sm-overdue-box", "sm-stuck", "sm-stuck-box"}
    delay = page.by_id("sm-start-delay").find_all("dd")
    assert [dd.attrs["data-value"] for dd in delay] == ["", "", "", "0"]


def test_it_keeps_the_30_day_heatmap_after_pruning(staff_client, make_job, record_run, frozen):
    """Failures 10 days ago still show on the day heatmap once their runs are pruned."""
    job = make_job("old_failures", category="Reports")
    day = NOW - timedelta(days=10)
    for hour in (1, 2, 3):
        record_run(job, status=RunStatus.FAILURE, started_at=day.replace(hour=hour))
    record_run(job, started_at=day.replace(hour=4))

    def cells():
        heatmap = parse(staff_client.get(URL).content).by_id("sm-heatmap-day")
        (group,) = heatmap.find_all("tbody", class_="sm-heat-group")
        return {
            c.attrs["data-start"]: int(c.attrs["data-count"])
            for c in group.find_all("td", class_="sm-heat")
            if c.attrs["data-count"] != "0"
        }

    expected = {"2026-06-05T00:00:00+00:00": 3}
    assert cells() == expected
    result = retention.job_runs_prune(days=7)
    assert result.deleted == 4 and not JobRun.objects.exists()
    assert cells() == expected


def test_it_translates_the_new_states(staff_client, make_job, rules, frozen):
    """In Simplified Chinese: the banner, the overdue badge and the lease roles."""
    make_job("late", expected_interval_seconds=3600)
    due("late", NOW - timedelta(minutes=7))
    live_scheduler()
    # The middleware activates the language in this thread: restore it afterwards.
    with translation.override("en"):
        page = parse(staff_client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content)
    assert "1 条告警触发中" in page.by_id("sm-alerts").text
    assert "警告" in page.by_id("sm-alerts").text
    assert "逾期" in rows_of(page)["late"].text
    assert "活动实例" in page.by_id("sm-status").text
