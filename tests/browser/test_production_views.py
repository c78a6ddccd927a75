"""In Chromium: a phone's first screen, the changed-rows refresh, the paged table's search."""

import re

import pytest
from django.db.models import F

from scheduler_monitor.dashboard import job_table
from scheduler_monitor.dashboard.heatmap_view import TOP_JOBS
from scheduler_monitor.models import JobDefinition
from tests.dashboard.test_heatmap_view import failing_jobs

from .conftest import shot

pytestmark = pytest.mark.slow

PHONE = {"width": 375, "height": 667}


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.mark.parametrize("page", [PHONE], indirect=True, ids=["375px"])
def test_a_phones_first_screen_shows_the_status_and_the_problem_count(page, login, browser_dataset):
    """Scheduler status, then the number of alerts, both above the fold; status column in view."""
    login(page)
    height, width = PHONE["height"], PHONE["width"]
    status = page.locator("#sm-status").bounding_box()
    count = page.locator("#sm-problem-count").bounding_box()
    assert status["y"] + 20 < height, status  # its label line is on the first screen
    assert count["y"] + count["height"] <= height, count
    assert status["y"] < count["y"]
    expect()(page.locator("#sm-problem-count")).to_contain_text("alert")
    first_row_status = page.locator("#sm-job-table tbody tr.sm-row").first.locator("td").nth(8)
    box = first_row_status.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width, box
    assert page.js_errors == []


def test_a_refresh_replaces_only_the_rows_that_changed(page, login, browser_dataset, record_run):
    """The other rows stay the very same DOM elements; the changed one is new."""
    login(page, "/scheduler-monitoring?refresh=0")
    check = expect()
    page.click("#sm-refresh-now")  # the first refresh gives the page its digests
    check(page.locator("#sm-dashboard")).to_have_attribute("data-refreshes", "1")
    page.evaluate(
        """() => document.querySelectorAll('#sm-job-table tr.sm-row')
                 .forEach(row => { row.dataset.mark = 'kept'; })"""
    )
    page.click("#sm-refresh-now")  # nothing changed: a 304
    check(page.locator("#sm-dashboard")).to_have_attribute("data-refreshes", "2")
    assert page.get_attribute("#sm-dashboard", "data-last-status") == "304"
    record_run("alpha_job", status="failure", error="boom")
    page.click("#sm-refresh-now")
    check(page.locator("#sm-dashboard")).to_have_attribute("data-refreshes", "3")
    assert page.get_attribute("#sm-dashboard", "data-last-status") == "200"
    marks = page.eval_on_selector_all(
        "#sm-job-table tr.sm-row", "rows => rows.map(r => [r.dataset.jobId, r.dataset.mark || ''])"
    )
    assert dict(marks)["alpha_job"] == ""  # replaced: it changed
    assert all(mark == "kept" for job_id, mark in marks if job_id != "alpha_job"), marks
    check(page.locator("#sm-job-table tr[data-job-id=alpha_job]")).to_have_class(
        "sm-row sm-row-failing"
    )
    assert page.js_errors == []


def test_search_in_a_paged_table_finds_a_job_on_another_page(page, login, browser_dataset):
    """Beyond a few hundred jobs the search asks the server, which searches every job."""
    JobDefinition.objects.bulk_create(
        JobDefinition(job_id=f"bulk_{i:04d}", name=f"Bulk {i}", category="Bulk")
        for i in range(job_table.PAGED_BEYOND)
    )
    JobDefinition.objects.filter(job_id="bulk_0299").update(owner=F("owner"), name="Needle")
    login(page, "/scheduler-monitoring?refresh=0")
    check = expect()
    check(page.locator("#sm-pager")).to_be_visible()
    check(page.locator("#sm-job-table tr[data-job-id=bulk_0299]")).to_have_count(0)
    page.fill("#sm-search", "needle")
    check(page.locator("#sm-job-table tr.sm-row:not([hidden])")).to_have_count(1)
    check(page.locator("#sm-job-table tr[data-job-id=bulk_0299]")).to_be_visible()
    assert "q=needle" in page.url
    assert page.js_errors == []


def test_a_capped_heatmap_lists_the_worst_jobs_and_reaches_every_one(page, login):
    """Beyond TOP_JOBS failing jobs: the worst listed, the rest counted, the rest one click away."""
    failing_jobs(TOP_JOBS + 20, category="Bulk")
    login(page, "/scheduler-monitoring?refresh=0&tab=heatmap")
    check = expect()
    bulk = page.locator("#sm-heatmap-hour tbody[data-category=Bulk]")
    check(bulk.locator("a.sm-heat-job")).to_have_count(TOP_JOBS)
    worst = bulk.locator("a.sm-heat-job").first
    check(worst).to_have_attribute("data-job-id", f"bulk_{TOP_JOBS + 19:03d}")
    check(bulk.locator("a.sm-heat-more")).to_have_text("+ 20 more failing jobs")
    check(page.locator("#sm-heatmap-hour .sm-heat-note")).to_contain_text(
        "20 jobs with fewer failures are not listed"
    )
    shot(page, "heatmap-capped")
    # The 30-day range, then one category: the page opens on that range and category.
    page.click(".sm-heat-range[data-range=day]")
    page.select_option("#sm-heat-category", "Bulk")
    page.wait_for_url(re.compile(r"heat_category=Bulk"))
    check(page.locator("#sm-heatmap-day")).to_be_visible()
    check(page.locator("#sm-heatmap-hour")).to_be_hidden()
    day = page.locator("#sm-heatmap-day tbody.sm-heat-group")
    check(day).to_have_count(1)
    check(day.locator("a.sm-heat-job")).to_have_count(TOP_JOBS + 20)
    # Back to every category, then everything through "Show all".
    page.select_option("#sm-heat-category", "")
    page.wait_for_url(re.compile(r"heat_range=day"))
    page.click("#sm-heatmap-day a.sm-heat-all")
    page.wait_for_url(re.compile(r"heat=all"))
    every = page.locator("#sm-heatmap-day tbody[data-category=Bulk]")
    check(every.locator("a.sm-heat-job")).to_have_count(TOP_JOBS + 20)
    check(every.locator("a.sm-heat-more")).to_have_count(0)
    assert page.js_errors == []
