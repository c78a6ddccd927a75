"""The dashboard views against a known data set: cards, status, chain, table, heatmap."""

import math
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.dashboard import job_table
from scheduler_monitor.models import JobDefinition, SchedulerInstance
from scheduler_monitor.window import get_window

from .html import parse

URL = "/scheduler-monitoring"


def value_of(page, element_id):
    """The raw number a card or fact carries in its ``data-value``."""
    raw = page.by_id(element_id).attrs.get("data-value")
    if raw is None:
        raw = next(el for el in page.by_id(element_id).iter() if "data-value" in el.attrs).attrs[
            "data-value"
        ]
    return float(raw)


def card(page, name):
    element = page.by_id(f"sm-card-{name}")
    return float(element.find_all(class_="sm-card-value")[0].attrs["data-value"])


def test_it_shows_each_card_as_the_database_says(staff_client, dataset):
    """Total jobs, success rate, average duration, failing jobs and 24 h runs match the data."""
    page = parse(staff_client.get(URL).content)
    expected = dataset.expected_cards()
    assert card(page, "total-jobs") == expected["total_jobs"]
    assert math.isclose(card(page, "success-rate"), expected["success_rate"])
    assert math.isclose(card(page, "avg-duration"), expected["avg_duration_ms"])
    assert card(page, "failing-jobs") == expected["failing_jobs"]
    assert card(page, "runs-24h") == expected["runs_last_24h"]
    failures_note = page.by_id("sm-card-runs-24h").find_all(class_="sm-card-note")[0]
    assert int(failures_note.attrs["data-failures"]) == expected["failures_last_24h"]
    rate_text = page.by_id("sm-card-success-rate").find_all(class_="sm-card-value")[0].text
    assert rate_text == f"{expected['success_rate'] * 100:.1f}%"


def test_it_shows_the_notification_chain_as_the_database_says(staff_client, dataset):
    """Counts, rate, avg/p95 duration and the gateway's avg/p95 equal independent figures."""
    page = parse(staff_client.get(URL).content)
    expected = dataset.expected_chain()
    assert value_of(page, "sm-chain-success") == expected["success"]
    assert value_of(page, "sm-chain-failure") == expected["failure"]
    assert math.isclose(value_of(page, "sm-chain-rate"), expected["rate"])
    assert math.isclose(value_of(page, "sm-chain-avg"), expected["avg"])
    assert math.isclose(value_of(page, "sm-chain-p95"), expected["p95"])
    assert math.isclose(value_of(page, "sm-chain-gateway-avg"), expected["gateway_avg"])
    assert math.isclose(value_of(page, "sm-chain-gateway-p95"), expected["gateway_p95"])


def test_it_shows_the_chain_error_when_its_last_run_failed(staff_client, dataset, record_run):
    """A failed last notification run is shown with its error text."""
    record_run("send_alert_notifications", status="failure", error="GatewayError: 502 from SMS")
    page = parse(staff_client.get(URL).content)
    assert "GatewayError: 502 from SMS" in page.by_id("sm-chain-error").text
    assert "sm-notification-bad" in page.by_id("sm-notification").attrs["class"]


def test_it_says_loudly_when_the_notification_job_is_missing(staff_client, db, settings):
    """An unknown NOTIFICATION_JOB_ID is named on the card instead of showing zeros."""
    settings.SCHEDULER_MONITOR = {"NOTIFICATION_JOB_ID": "no_such_job"}
    page = parse(staff_client.get(URL).content)
    chain = page.by_id("sm-notification")
    assert "no_such_job" in chain.text
    assert "sm-notification-missing" in chain.attrs["class"]


def test_it_shows_the_scheduler_stopped_loudly(staff_client, dataset):
    """With no live heartbeat the status says STOPPED, with the registered and paused counts."""
    now = timezone.now()
    SchedulerInstance.objects.create(
        hostname="box",
        pid=42,
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(minutes=5),
    )
    page = parse(staff_client.get(URL).content)
    status = page.by_id("sm-status")
    assert "sm-status-stopped" in status.attrs["class"]
    assert "SCHEDULER STOPPED" in status.text
    assert "box:42" in status.text
    assert value_of(page, "sm-registered") == 4
    assert value_of(page, "sm-paused") == 1


def test_it_shows_a_running_scheduler(staff_client, dataset):
    """A fresh heartbeat shows the scheduler running, with host and pid."""
    now = timezone.now()
    SchedulerInstance.objects.create(hostname="box", pid=7, started_at=now, heartbeat_at=now)
    status = parse(staff_client.get(URL).content).by_id("sm-status")
    assert "sm-status-running" in status.attrs["class"]
    assert "box:7" in status.text


def test_it_lists_recent_scheduler_events_on_the_status_card(staff_client, dataset):
    """A database outage and a takeover gap the scheduler recorded show on the card."""
    from scheduler_monitor.scheduler_events import database_outage_record, event_record

    t0 = timezone.now() - timedelta(minutes=30)
    database_outage_record(started_at=t0, ended_at=t0 + timedelta(seconds=20), pid=9)
    event_record(
        kind="no_scheduler",
        started_at=t0 + timedelta(minutes=1),
        ended_at=t0 + timedelta(minutes=1, seconds=16),
        message="No scheduler ran jobs <for 16 s>",
        missed_runs=16,
    )
    events = parse(staff_client.get(URL).content).by_id("sm-scheduler-events")
    items = events.find_all("li")
    assert [li.attrs["data-kind"] for li in items] == ["no_scheduler", "database_unreachable"]
    assert items[0].attrs["data-missed"] == "16"
    assert "No scheduler ran jobs <for 16 s>" in items[0].text  # escaped, shown as text
    assert "Could not reach the database from" in items[1].text


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_it_shows_every_heatmap_cell_as_the_database_says(staff_client, dataset, settings, bucket):
    """Each cell's count (and hover title) equals the failures in that category and bucket."""
    settings.SCHEDULER_MONITOR = {"HEATMAP_ALARM_THRESHOLD": 2}
    page = parse(staff_client.get(URL).content)
    expected = dataset.expected_heat(bucket=bucket)
    heatmap = page.by_id(f"sm-heatmap-{bucket}")
    seen = {}
    for group in heatmap.find_all("tbody", class_="sm-heat-group"):
        category = group.attrs["data-category"]
        cells = group.find_all("td", class_="sm-heat")
        assert len(cells) == (24 if bucket == "hour" else 30)
        for cell in cells:
            start = cell.attrs["data-start"]
            count = int(cell.attrs["data-count"])
            seen[(category, start)] = count
            assert count == expected.get((category, start), 0), (category, start)
            assert f"{count} failure" in cell.attrs["title"]
            assert ("sm-heat-alarm" in cell.attrs["class"]) == (count >= 2)
            assert cell.text == (str(count) if count else "")
    assert {k for k, v in seen.items() if v} == set(expected)
    assert {g.attrs["data-category"] for g in heatmap.find_all("tbody")} == {
        "Billing",
        "Notifications",
        "Search",
    }


def test_it_lists_the_failed_jobs_under_each_heatmap_category(staff_client, dataset):
    """Under each category the jobs that failed in the last 24 h appear with their counts."""
    page = parse(staff_client.get(URL).content)
    heatmap = page.by_id("sm-heatmap-hour")
    billing = [g for g in heatmap.find_all("tbody") if g.attrs["data-category"] == "Billing"][0]
    listed = {a.attrs["data-job-id"]: int(a.attrs["data-failures"]) for a in billing.find_all("a")}
    assert listed == {"beta_job": 3, "alpha_job": 1}


def test_it_lists_every_job_with_its_figures(staff_client, dataset):
    """The table has one row per job with runs, status badge, paused and a job page link."""
    page = parse(staff_client.get(URL).content)
    rows = {
        r.attrs["data-job-id"]: r
        for r in page.by_id("sm-job-table").find_all("tr", class_="sm-row")
    }
    assert set(rows) == set(dataset.jobs)
    alpha = rows["alpha_job"]
    assert alpha.find_all("td", data_cell="runs")[0].text == "5"
    assert alpha.attrs["data-sort-rate"] == str(4 / 5)
    assert "sm-badge-success" in alpha.find_all("span", class_="sm-badge")[0].attrs["class"]
    assert alpha.find_all("a")[0].attrs["href"] == reverse(
        "scheduler_monitor_job", args=["alpha_job"]
    )
    assert "sm-row-failing" in rows["beta_job"].attrs["class"]
    assert rows["gamma_job"].attrs["data-sort-paused"] == "1"


@pytest.mark.parametrize(
    ("query", "visible"),
    [
        ("?q=team+b", {"beta_job"}),
        ("?q=ALPHA", {"alpha_job"}),
        ("?category=Billing", {"alpha_job", "beta_job"}),
        ("?q=sre&category=Notifications", {"send_alert_notifications"}),
        ("?q=nothing-like-this", set()),
    ],
)
def test_it_filters_rows_through_the_url(staff_client, dataset, query, visible):
    """?q= (id, name, owner) and ?category= hide the other rows, so a view can be bookmarked."""
    page = parse(staff_client.get(URL + query).content)
    rows = page.by_id("sm-job-table").find_all("tr", class_="sm-row")
    assert {r.attrs["data-job-id"] for r in rows if "hidden" not in r.attrs} == visible
    assert ("hidden" in page.by_id("sm-no-match").attrs) == bool(visible)


def test_it_renders_the_same_partials_on_refresh(staff_client, dataset, record_run):
    """The fragments endpoint returns every refreshable part, with new runs counted."""
    record_run("alpha_job", status="failure", error="boom")
    page = parse(staff_client.get(reverse("scheduler_monitor_fragments")).content)
    for element_id in [
        "sm-status",
        "sm-cards",
        "sm-notification",
        "sm-jobs",
        "sm-heatmap-hour",
        "sm-heatmap-day",
        "sm-updated",
    ]:
        assert "data-fragment" in page.by_id(element_id).attrs
    assert card(page, "runs-24h") == dataset.expected_cards()["runs_last_24h"] + 1


@pytest.mark.parametrize(
    "url",
    [
        URL,
        "/scheduler-monitoring/fragments",
        "/scheduler-monitoring/export.prom",
        "/scheduler-monitoring/jobs/alpha_job",
    ],
)
def test_it_sends_anonymous_users_to_the_admin_login(client, dataset, url):
    """Anyone not logged in is redirected to the admin's login with ?next=."""
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login") + "?next=")


def test_it_refuses_non_staff_users(client, dataset):
    """A logged-in user who is not staff gets the admin login, not the page."""
    client.force_login(User.objects.create_user("plain", password="pw-plain-1"))
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    response = client.post(reverse("scheduler_monitor_job_action", args=["alpha_job", "pause"]))
    assert response.status_code == 302
    assert not JobDefinition.objects.get(job_id="alpha_job").paused


def test_it_is_linked_from_the_admin_index_and_reachable_under_admin(staff_client, db):
    """The admin index links the dashboard; /admin/scheduler-monitoring/ leads to it."""
    index = staff_client.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in index
    response = staff_client.get("/admin/scheduler-monitoring/?q=x")
    assert response.status_code == 302
    assert response["Location"] == URL + "?q=x"
    page = staff_client.get(response["Location"])
    assert page.status_code == 200
    assert 'id="site-name"' in page.content.decode()  # the admin's own look


def test_it_renders_in_simplified_chinese(staff_client, dataset):
    """With Accept-Language zh-hans the page is Chinese (ours and the admin's strings)."""
    html = staff_client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    page = parse(html)
    assert 'lang="zh-hans"' in html
    assert "调度器监控" in page.by_id("sm-dashboard").text
    assert "任务总数" in page.by_id("sm-card-total-jobs").text
    assert "失败热力图" in page.by_id("sm-tab-heatmap").text
    assert "通知链路" in page.by_id("sm-notification").text
    assert "首页" in html  # the admin's breadcrumbs


def test_it_renders_with_the_auto_refresh_setting(staff_client, db, settings):
    """The interval comes from AUTO_REFRESH_SECONDS; ?refresh= overrides it."""
    settings.SCHEDULER_MONITOR = {"AUTO_REFRESH_SECONDS": 60}
    page = parse(staff_client.get(URL).content)
    assert page.by_id("sm-dashboard").attrs["data-refresh"] == "60"
    page = parse(staff_client.get(URL + "?refresh=2").content)
    assert page.by_id("sm-dashboard").attrs["data-refresh"] == "2"
    options = [o.attrs["value"] for o in page.by_id("sm-refresh-interval").find_all("option")]
    assert options == ["0", "2", "10", "30", "60"]


def make_many_jobs(count):
    JobDefinition.objects.bulk_create(
        JobDefinition(
            job_id=f"bulk_{i:04d}",
            name=f"Bulk {i}",
            owner="Team",
            category=f"C{i % 7}",
            success_count=i,
            failure_count=i % 3,
            last_status="success",
            last_run_at=timezone.now(),
        )
        for i in range(count)
    )


# session, user, next runs, running runs (stuck), 2 window top-ups, jobs, 3 cards (the
# counters, the two partial hours of the last 24 h),
# 5 status (latest instance, 2 job counts, lease, live instances), chain job and gateway
# measurements, 2 for the hourly heatmap, 4 for the daily one (jobs, rollups, the past
# days' failure signature, today's failures; past days are counted again only when that
# signature changes): 23; the alert rules (see tests/api/test_query_counts.py) without
# the jobs and next run times, which they share with the table: 7 (the failure ratios'
# two live ends and the runs inside maintenance windows, failure_ratio_counts.py), the
# failing streaks: 1, 3 for the down scheduler's status (read once for the check and its
# message), the recent scheduler events: 1, missed scheduled times for the failure ratio
# and the two heatmaps: 3; the open incidents and the active silences: 2.
QUERIES = 23 + 7 + 1 + 3 + 1 + 3 + 2


@pytest.mark.parametrize("jobs", [3, 200, 1000])
def test_it_renders_with_a_fixed_number_of_queries(
    staff_client, db, settings, record_run, django_assert_num_queries, jobs
):
    """The page and its refresh cost the same queries with 3, 200 or 1,000 jobs."""
    # Top up the window on every request, so the count does not depend on timing.
    settings.SCHEDULER_MONITOR = {"WINDOW_REFRESH_INTERVAL": 0}
    make_many_jobs(jobs - 1)
    chain = JobDefinition.objects.create(job_id="send_alert_notifications", name="Notify")
    record_run(chain, measurements={"gateway_response_ms": 12.5})
    for job in JobDefinition.objects.all()[:3]:
        record_run(job, status="failure")
    get_window().refresh(force=True)  # warmed once per process, not per request
    staff_client.get(URL)  # session and user caches
    with django_assert_num_queries(QUERIES):
        response = staff_client.get(URL)
    assert response.status_code == 200
    # Beyond a few hundred jobs the table shows one page (tests/dashboard/test_job_table.py).
    shown = jobs if jobs <= job_table.PAGED_BEYOND else job_table.PAGE_SIZE
    assert len(parse(response.content).find_all("tr", class_="sm-row")) == shown
    with django_assert_num_queries(QUERIES):
        staff_client.get(reverse("scheduler_monitor_fragments"))


@pytest.mark.parametrize("raw", ["²", "١٠", "𝟡", "9" * 5000, "-5", "1.5"])
def test_an_odd_refresh_value_falls_back_to_the_setting(staff_client, raw):
    """Only ASCII digits count ("²" passes str.isdigit() but not int()): no 500."""
    response = staff_client.get("/scheduler-monitoring", {"refresh": raw})
    assert response.status_code == 200
    assert response.context["refresh_seconds"] == conf.get("AUTO_REFRESH_SECONDS")


def test_the_admin_index_has_one_scheduler_monitoring_section(staff_client, db):
    """The dashboard is the first row of the app's own section, not a section of its own."""
    index = parse(staff_client.get(reverse("admin:index")).content)
    captions = [c.text for c in index.find_all("caption")]
    assert captions.count("Scheduler monitoring") == 1
    assert "Scheduler monitor" not in captions
    section = index.find_all("div", class_="app-scheduler_monitor")
    assert len(section) == 1
    links = [a.attrs["href"] for a in section[0].find_all("a")]
    assert links[1] == URL  # caption first, then the dashboard row
    assert "/admin/scheduler_monitor/jobrun/" in links


def test_the_page_has_a_favicon(staff_client, db):
    page = staff_client.get(URL).content.decode()
    assert 'rel="icon" href="/static/scheduler_monitor/favicon.svg"' in page


def test_an_alert_storm_lists_the_worst_fifty_and_counts_the_rest_per_rule(staff_client, make_job):
    """With every job overdue (the scheduler down an hour), the page stays a page."""
    from django_apscheduler.models import DjangoJob

    from scheduler_monitor.alert_rules import firing_alerts
    from scheduler_monitor.dashboard.views import ALERTS_SHOWN

    hour_ago = timezone.now() - timedelta(hours=1)
    for n in range(ALERTS_SHOWN + 20):
        job = make_job(job_id=f"storm_{n:03}")
        DjangoJob.objects.create(id=job.job_id, next_run_time=hour_ago, job_state=b"")
    firing = firing_alerts()
    assert len(firing) > ALERTS_SHOWN + 19  # every job overdue, and the scheduler down
    page = parse(staff_client.get(URL).content)
    listed = [li for li in page.find_all("li", class_="sm-alert") if li.attrs.get("data-rule")]
    assert [li.attrs["data-job-id"] for li in listed] == [
        a.job_id or "" for a in firing[:ALERTS_SHOWN]
    ]
    more = page.by_id("sm-alerts-more")
    assert int(more.attrs["data-hidden"]) == len(firing) - ALERTS_SHOWN
    hidden_rules = {a.rule for a in firing[ALERTS_SHOWN:]}
    assert {el.text for el in more.find_all(class_="sm-alert-rule")} == hidden_rules
    assert int(page.by_id("sm-alerts").attrs["data-total"]) == len(firing)
    chinese = staff_client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f"另有 {len(firing) - ALERTS_SHOWN} 条告警未列出" in chinese
