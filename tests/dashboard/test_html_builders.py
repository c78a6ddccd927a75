"""The dashboard's job rows and heatmap cells built in Python: escaping, URLs, words."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template.defaultfilters import date as date_filter
from django.test.utils import override_script_prefix
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from scheduler_monitor import heatmaps, jobs, schedule_health
from scheduler_monitor.dashboard.heatmap_html import heatmap_groups
from scheduler_monitor.dashboard.heatmap_view import heatmap_view
from scheduler_monitor.dashboard.html_builders import (
    epoch,
    job_rows,
    job_url_maker,
    status_label_maker,
)
from scheduler_monitor.dashboard.views import JobRow
from scheduler_monitor.models import JobDefinition, RunStatus
from scheduler_monitor.stats import EMPTY_STATS, Stats
from tests.dashboard.html import parse

URL = "/scheduler-monitoring"
HOUR = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
EVIL_ID = 'evil "id" <x>&\''
EVIL_NAME = "<script>alert(1)</script>"
EVIL_OWNER = 'O\'Brien & "Co"'
EVIL_CATEGORY = '"><img src=x onerror=alert(2)>'


def job(**fields) -> JobDefinition:
    """An unsaved job (the builders read attributes only)."""
    defaults = {"job_id": "late_job", "name": "Late job", "owner": "Ops", "category": "Ops"}
    return JobDefinition(**{**defaults, **fields})


def row_of(job, *, stuck=0, late=None, grace=360.0, next_run_at=None, visible=True, stats=None):
    """The job's ``<tr>`` as built for the table, parsed."""
    row = JobRow(
        metrics=jobs.JobMetrics(job=job, stats=stats or EMPTY_STATS),
        next_run_at=next_run_at,
        visible=visible,
        schedule=schedule_health.JobSchedule(
            job=job, next_run_at=next_run_at, grace_seconds=grace, late_seconds=late
        ),
        stuck_runs=stuck,
    )
    (tr,) = parse(job_rows([row])).find_all("tr")
    return tr


def badge(tr, kind):
    (span,) = tr.find_all("span", class_=f"sm-badge-{kind}")
    return span


# --- escaping -------------------------------------------------------------------------------


def test_it_escapes_job_fields_in_the_page(admin_client, make_job, record_run):
    """A name like <script>, quotes and & in id, owner and category stay text everywhere."""
    evil = make_job(EVIL_ID, name=EVIL_NAME, owner=EVIL_OWNER, category=EVIL_CATEGORY)
    record_run(evil, status=RunStatus.FAILURE)
    html = admin_client.get(URL).content.decode()
    assert EVIL_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    page = parse(html)
    for fragment in ("sm-jobs", "sm-heatmap-hour", "sm-heatmap-day"):
        assert page.by_id(fragment).find_all("script") == []
        assert page.by_id(fragment).find_all("img") == []
    (tr,) = page.by_id("sm-job-table").find_all("tr", class_="sm-row")
    assert tr.attrs["data-job-id"] == EVIL_ID
    assert tr.attrs["data-sort-name"] == EVIL_NAME
    assert tr.attrs["data-sort-owner"] == EVIL_OWNER
    assert tr.attrs["data-category"] == EVIL_CATEGORY
    assert tr.attrs["data-search"] == f"{EVIL_ID} {EVIL_NAME} {EVIL_OWNER.lower()}"
    id_link, name_link = tr.find_all("a")
    assert (id_link.text, name_link.text) == (EVIL_ID, EVIL_NAME)
    assert id_link.attrs["href"] == reverse("scheduler_monitor_job", args=[EVIL_ID])
    (group,) = page.by_id("sm-heatmap-hour").find_all("tbody", class_="sm-heat-group")
    assert group.attrs["data-category"] == EVIL_CATEGORY
    assert group.find_all("th")[0].text == EVIL_CATEGORY
    assert group.find_all("td", class_="sm-heat")[-1].attrs["title"].startswith(EVIL_CATEGORY)
    (link,) = group.find_all("a", class_="sm-heat-job")
    assert link.attrs["data-job-id"] == EVIL_ID
    assert link.text == f"{EVIL_ID} × 1"


# --- job page URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "job_id",
    ["alpha_job", "报表 job 1", "a b", "100%done?x=1#top", EVIL_ID, "~:@!$()*+,;=", "ünï-ß\t"],
)
def test_it_builds_the_job_url_as_reverse_does(job_id):
    """Quoting the id into one reversed URL equals reverse() per id, also under a prefix."""
    assert job_url_maker()(job_id) == reverse("scheduler_monitor_job", args=[job_id])
    with override_script_prefix("/ops/"):
        url = job_url_maker()(job_id)
        assert url.startswith("/ops/")
        assert url == reverse("scheduler_monitor_job", args=[job_id])


@pytest.mark.parametrize("job_id", ["", "a/b"])
def test_it_refuses_ids_the_url_pattern_refuses(job_id):
    """Ids reverse() cannot put in the URL raise as the template's {% url %} did."""
    with pytest.raises(NoReverseMatch):
        job_url_maker()(job_id)


def test_it_links_a_chinese_id_with_a_space_to_its_page(admin_client, make_job):
    """The row's link of "报表 job 1" opens that job's page."""
    make_job("报表 job 1", name="月度报表")
    page = parse(admin_client.get(URL).content)
    (tr,) = page.by_id("sm-job-table").find_all("tr", class_="sm-row")
    href = tr.find_all("a")[0].attrs["href"]
    assert href == "/scheduler-monitoring/jobs/%E6%8A%A5%E8%A1%A8%20job%201"
    title = parse(admin_client.get(href).content).find_all("h1", class_="sm-title")[0]
    assert title.text == "月度报表 报表 job 1"


# --- the job table's rows -------------------------------------------------------------------


def test_it_marks_an_overdue_job_with_its_lateness_and_grace():
    """Past its grace: an "overdue" badge titled with the seconds late and the grace."""
    tr = row_of(job(last_status="success"), late=420.4, grace=360.0)
    assert (tr.attrs["data-overdue"], tr.attrs["data-stuck"]) == ("1", "0")
    assert "sm-row-failing" in tr.attrs["class"].split()
    overdue = badge(tr, "overdue")
    assert (overdue.text, overdue.attrs["title"]) == ("overdue", "Due 420 s ago (grace 360 s)")
    assert tr.find_all("span", class_="sm-badge-stuck") == []


def test_it_leaves_a_job_within_its_grace_unmarked():
    """Late but within the grace: no badge, not failing."""
    tr = row_of(job(last_status="success"), late=100.0, grace=360.0)
    assert tr.attrs["data-overdue"] == "0"
    assert tr.attrs["class"] == "sm-row"
    assert tr.find_all("span", class_="sm-badge-overdue") == []


def test_it_counts_stuck_runs_in_a_badge():
    """Runs past their maximum runtime: "N stuck", titled with the reason."""
    tr = row_of(job(last_status="running"), stuck=2)
    assert tr.attrs["data-stuck"] == "2"
    assert "sm-row-failing" in tr.attrs["class"].split()
    stuck = badge(tr, "stuck")
    assert (stuck.text, stuck.attrs["title"]) == ("2 stuck", "Running past its maximum runtime")
    assert badge(tr, "running").text == "running"


def test_it_translates_the_badges_and_their_titles():
    """In Simplified Chinese: status label, overdue and stuck badges with their titles."""
    with translation.override("zh-hans"):
        tr = row_of(job(last_status="failure"), stuck=3, late=7201.0, grace=360.0)
    assert badge(tr, "failure").text == "失败"
    overdue = badge(tr, "overdue")
    assert (overdue.text, overdue.attrs["title"]) == (
        "逾期",
        "已超出计划时间 7201 秒（宽限 360 秒）",
    )
    stuck = badge(tr, "stuck")
    assert (stuck.text, stuck.attrs["title"]) == ("3 个卡住", "运行时间超过上限")


def test_it_shows_a_paused_job_that_never_ran():
    """No run: "never ran", dashes, zero sort keys; paused instead of a next run time."""
    tr = row_of(job(paused=True), visible=False)
    cells = tr.find_all("td")
    assert "hidden" in tr.attrs
    assert (tr.attrs["data-sort-paused"], tr.attrs["data-sort-last"]) == ("1", "0")
    assert (tr.attrs["data-sort-rate"], tr.attrs["data-sort-avg"]) == ("-1", "-1")
    assert [c.text for c in cells[4:8]] == ["—", "0", "—", "—"]
    assert cells[8].text == "never ran"
    assert cells[10].text == "paused"
    assert badge(tr, "paused").text == "paused"


def test_it_gives_the_sort_keys_and_figures_of_a_job_with_runs(settings):
    """Raw numbers in data-sort-*, localised and formatted ones in the cells."""
    settings.USE_THOUSAND_SEPARATOR = True
    last = datetime(2026, 6, 15, 20, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    stats = Stats(1234.5, None, 2500.0, None, None, None, 10)
    ran = job(success_count=12_000, failure_count=345, last_status="success", last_run_at=last)
    tr = row_of(ran, stats=stats, next_run_at=last + timedelta(minutes=1))
    assert tr.attrs["data-sort-rate"] == str(12_000 / 12_345)
    assert tr.attrs["data-sort-runs"] == "12,345"
    assert (tr.attrs["data-sort-avg"], tr.attrs["data-sort-p95"]) == ("1234.5", "2500.0")
    assert tr.attrs["data-sort-last"] == date_filter(last, "U") == "1781524805"
    assert tr.attrs["data-sort-next"] == "1781524865"
    cells = tr.find_all("td")
    assert [c.text for c in cells[4:8]] == ["97.2%", "12,345", "1.23 s", "2.50 s"]
    assert "sm-rate-warn" in cells[4].find_all("span")[0].attrs["class"].split()
    (time,) = cells[9].find_all("time")
    assert (time.attrs["datetime"], time.attrs["data-style"]) == (
        "2026-06-15T12:00:05Z",
        "relative",
    )


def test_it_counts_unix_seconds_as_the_date_filter_does():
    """``epoch`` equals ``|date:'U'|default:'0'`` in any time zone."""
    for tz in (UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")):
        value = datetime(2026, 3, 8, 2, 30, 59, 999_999, tzinfo=tz)
        assert epoch(value) == date_filter(value, "U")
    assert epoch(None) == "0"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_it_labels_statuses_as_the_model_does(language):
    """The cached label is the model's translated get_last_status_display()."""
    with translation.override(language):
        label = status_label_maker()
        for status in [*RunStatus.values, "unknown"]:
            assert (
                label(job(last_status=status)) == job(last_status=status).get_last_status_display()
            )


# --- the heatmap ----------------------------------------------------------------------------


def heatmap(bucket="hour", threshold=2):
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    rows = [
        heatmaps.HeatmapRow(
            category="Billing",
            counts=[0, 3],
            total=3,
            jobs=[{"job_id": "beta job", "job_name": "Beta", "failures": 3}],
        ),
        heatmaps.HeatmapRow(category="", counts=[1, 0], total=1, jobs=[]),
    ]
    return heatmap_view(
        heatmaps.FailureHeatmap(
            bucket=bucket,
            buckets=[HOUR, HOUR + step],
            rows=rows,
            max_count=3,
            alarm_threshold=threshold,
        )
    )


def groups_of(heatmap_dict):
    return {
        g.attrs["data-category"]: g
        for g in parse(heatmap_groups(heatmap_dict)).find_all("tbody", class_="sm-heat-group")
    }


def test_it_colours_and_titles_each_heatmap_cell():
    """Colour step, alarm class, count, UTC start and a title naming category, hour, count."""
    billing = groups_of(heatmap())["Billing"]
    empty, alarm = billing.find_all("td", class_="sm-heat")
    assert alarm.attrs["class"] == "sm-heat sm-heat-l3 sm-heat-alarm"
    assert (alarm.attrs["data-count"], alarm.text) == ("3", "3")
    assert alarm.attrs["data-start"] == "2026-06-15T11:00:00+00:00"
    assert alarm.attrs["title"] == "Billing · 2026-06-15 11:00–12:00 UTC: 3 failures (alarm)"
    assert empty.attrs["class"] == "sm-heat sm-heat-l0"
    assert (empty.attrs["data-count"], empty.text) == ("0", "")
    assert empty.attrs["title"] == "Billing · 2026-06-15 10:00–11:00 UTC: 0 failures"
    (total,) = billing.find_all("td", class_="sm-heat-total")
    assert (total.attrs["data-total"], total.text) == ("3", "3")
    (link,) = billing.find_all("a", class_="sm-heat-job")
    assert link.attrs["href"] == reverse("scheduler_monitor_job", args=["beta job"])
    assert (link.attrs["data-failures"], link.text) == ("3", "beta job × 3")
    assert billing.find_all("td", colspan="4")


def test_it_names_the_empty_category_and_says_when_nothing_failed():
    """No category reads "(none)"; a category without failed jobs says so."""
    none = groups_of(heatmap())[""]
    assert none.find_all("th")[0].text == "(none)"
    one = none.find_all("td", class_="sm-heat")[0]
    assert one.attrs["title"] == " · 2026-06-15 10:00–11:00 UTC: 1 failure"
    assert none.find_all("span", class_="sm-muted")[0].text == "no failures"


def test_it_titles_daily_cells_with_the_day_only():
    """Daily buckets: the start without an end time."""
    cells = groups_of(heatmap(bucket="day"))["Billing"].find_all("td", class_="sm-heat")
    assert cells[1].attrs["title"] == "Billing · 2026-06-16 10:00 UTC: 3 failures (alarm)"


def test_it_translates_the_heatmap_cells():
    """In Simplified Chinese: the failures count, the alarm mark and the empty words."""
    with translation.override("zh-hans"):
        groups = groups_of(heatmap())
    alarm = groups["Billing"].find_all("td", class_="sm-heat")[1]
    assert alarm.attrs["title"] == "Billing · 2026-06-15 11:00–12:00 UTC: 3 次失败 (告警)"
    assert groups[""].find_all("th")[0].text == "（无）"
    assert groups[""].find_all("span", class_="sm-muted")[0].text == "无失败"
