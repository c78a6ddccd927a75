"""The dashboard in headless Chromium: login, cards, filters, heatmap, refresh, export, phone."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from scheduler_monitor.models import TriggerRequest

from .conftest import shot

pytestmark = pytest.mark.slow


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def visible_job_ids(page):
    return page.eval_on_selector_all(
        "#sm-job-table tr.sm-row", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.jobId)"
    )


def test_it_logs_in_and_shows_the_cards(page, login, browser_dataset):
    """After the admin login form the cards show the data set's numbers."""
    login(page)
    expected = browser_dataset.expected_cards()
    check = expect()
    check(page.locator("#sm-card-total-jobs .sm-card-value")).to_have_text(
        str(expected["total_jobs"])
    )
    check(page.locator("#sm-card-success-rate .sm-card-value")).to_have_text(
        f"{expected['success_rate'] * 100:.1f}%"
    )
    check(page.locator("#sm-card-failing-jobs .sm-card-value")).to_have_text(
        str(expected["failing_jobs"])
    )
    check(page.locator("#sm-card-runs-24h .sm-card-value")).to_have_text(
        str(expected["runs_last_24h"])
    )
    chain = browser_dataset.expected_chain()
    check(page.locator("#sm-chain-success")).to_have_text(str(chain["success"]))
    check(page.locator("#sm-chain-gateway-p95")).to_have_text(f"{chain['gateway_p95']:.0f} ms")
    check(page.locator("#sm-status")).to_contain_text("SCHEDULER STOPPED")
    # No scheduler ever started: the default scheduler_down rule fires, loudly.
    banner = page.locator("#sm-alerts")
    check(banner).to_be_visible()
    check(banner).to_have_class(re.compile(r"\bsm-alerts-critical\b"))
    check(banner.locator("li[data-rule=scheduler_down]")).to_contain_text(
        "no scheduler has ever started"
    )
    assert banner.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(198, 40, 40)"
    assert page.js_errors == []


def test_it_filters_rows_by_search_and_category(page, login, browser_dataset):
    """Typing in the search box and choosing a category filter rows at once, and the URL."""
    login(page)
    assert len(visible_job_ids(page)) == 4
    page.fill("#sm-search", "team b")
    assert visible_job_ids(page) == ["beta_job"]
    assert "q=team+b" in page.url or "q=team%20b" in page.url
    page.fill("#sm-search", "")
    page.select_option("#sm-category", "Billing")
    assert sorted(visible_job_ids(page)) == ["alpha_job", "beta_job"]
    assert "category=Billing" in page.url
    page.fill("#sm-search", "alpha")
    assert visible_job_ids(page) == ["alpha_job"]
    expect()(page.locator("#sm-visible-count")).to_have_text("1 / 4")
    shot(page, "filtered")
    page.reload()  # the filtered view is bookmarkable
    assert visible_job_ids(page) == ["alpha_job"]
    assert page.input_value("#sm-search") == "alpha"
    page.fill("#sm-search", "zzz-nothing")
    expect()(page.locator("#sm-no-match")).to_be_visible()


def test_it_sorts_the_table_by_a_column(page, login, browser_dataset):
    """Clicking a header sorts by it, clicking again reverses."""
    login(page)
    page.click("#sm-job-table th[data-sort=runs] button")
    runs = page.eval_on_selector_all(
        "#sm-job-table tr.sm-row", "rows => rows.map(r => Number(r.dataset.sortRuns))"
    )
    assert runs == sorted(runs)
    page.click("#sm-job-table th[data-sort=runs] button")
    runs = page.eval_on_selector_all(
        "#sm-job-table tr.sm-row", "rows => rows.map(r => Number(r.dataset.sortRuns))"
    )
    assert runs == sorted(runs, reverse=True)


def test_it_shows_the_heatmap_counts(page, login, browser_dataset):
    """The heatmap tab shows every cell's failure count, with the exact count on hover."""
    login(page)
    page.click("#sm-tab-heatmap")
    check = expect()
    check(page.locator("#sm-heatmap-hour")).to_be_visible()
    for bucket in ("hour", "day"):
        if bucket == "day":
            page.click(".sm-heat-range[data-range=day]")
            check(page.locator("#sm-heatmap-day")).to_be_visible()
        cells = page.eval_on_selector_all(
            f"#sm-heatmap-{bucket} td.sm-heat",
            """cells => cells.map(c => [c.closest('tbody').dataset.category, c.dataset.start,
                                        c.textContent.trim(), c.title])""",
        )
        expected = browser_dataset.expected_heat(bucket=bucket)
        shown = {}
        for category, start, text, title in cells:
            count = int(text or 0)
            shown_key = (category, start.replace("Z", "+00:00"))
            if count:
                shown[shown_key] = count
            assert f"{count} failure" in title
        assert shown == expected
        shot(page, f"heatmap-{bucket}")


def test_it_shows_a_new_run_after_auto_refresh_and_the_button(
    page, login, browser_dataset, record_run
):
    """A run recorded while the page is open appears after an auto-refresh and a manual one."""
    login(page, "/scheduler-monitoring?refresh=1")
    before = browser_dataset.expected_cards()["runs_last_24h"]
    runs_card = page.locator("#sm-card-runs-24h .sm-card-value")
    check = expect()
    check(runs_card).to_have_text(str(before))
    record_run("alpha_job", status="failure", error="boom")
    check(runs_card).to_have_text(str(before + 1), timeout=10_000)
    check(page.locator("#sm-job-table tr[data-job-id=alpha_job]")).to_have_class(
        "sm-row sm-row-failing"
    )

    page.select_option("#sm-refresh-interval", "0")  # auto-refresh off: only the button
    refreshes = int(page.get_attribute("#sm-dashboard", "data-refreshes"))
    record_run("beta_job", started_at=timezone.now() - timedelta(minutes=1))
    page.wait_for_timeout(1500)  # longer than the old interval: prove nothing auto-refreshed
    check(runs_card).to_have_text(str(before + 1))
    page.click("#sm-refresh-now")
    check(runs_card).to_have_text(str(before + 2))
    assert int(page.get_attribute("#sm-dashboard", "data-refreshes")) == refreshes + 1
    assert page.js_errors == []


def test_it_pauses_auto_refresh_while_the_tab_is_hidden(page, login, browser_dataset, record_run):
    """No refresh runs while the tab is hidden; showing it again refreshes at once."""
    login(page, "/scheduler-monitoring?refresh=1")
    set_hidden = """hidden => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    page.evaluate(set_hidden, True)
    page.wait_for_timeout(1200)  # let a refresh that was already in flight land
    refreshes = page.get_attribute("#sm-dashboard", "data-refreshes")
    before = browser_dataset.expected_cards()["runs_last_24h"]
    record_run("alpha_job")
    page.wait_for_timeout(2500)  # over two intervals
    assert page.get_attribute("#sm-dashboard", "data-refreshes") == refreshes
    runs_card = page.locator("#sm-card-runs-24h .sm-card-value")
    expect()(runs_card).to_have_text(str(before))
    page.evaluate(set_hidden, False)
    expect()(runs_card).to_have_text(str(before + 1))


def test_it_downloads_a_prometheus_export(page, login, browser_dataset, tmp_path):
    """The export button downloads scheduler-metrics-<UTC>.prom that parses as Prometheus text."""
    login(page)
    with page.expect_download() as info:
        page.click("#sm-export")
    download = info.value
    assert download.suggested_filename.startswith("scheduler-metrics-")
    assert download.suggested_filename.endswith("Z.prom")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    families = {f.name for f in text_string_to_metric_families(target.read_text())}
    assert "scheduler_job_success" in families


def test_it_triggers_a_job_from_its_page(page, login, browser_dataset):
    """A row links to the job page, whose Trigger button asks the scheduler for a run."""
    login(page)
    page.click("#sm-job-table tr[data-job-id=alpha_job] a.sm-job-link")
    page.wait_for_url("**/scheduler-monitoring/jobs/alpha_job")
    expect()(page.locator("#sm-duration-chart circle")).to_have_count(5)
    page.click("#sm-trigger")
    expect()(page.locator(".messagelist")).to_contain_text("requested")
    assert TriggerRequest.objects.filter(job__job_id="alpha_job", status="pending").count() == 1


PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1920, "height": 1080}


@pytest.mark.parametrize("page", [PHONE, DESKTOP], indirect=True, ids=["375px", "1920px"])
def test_it_never_scrolls_sideways(page, login, browser_dataset):
    """At 375 and 1920 px the document is not wider than the viewport, on every tab and page."""
    login(page)

    def overflow():
        return page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )

    width = page.viewport_size["width"]
    assert overflow() <= 0
    shot(page, f"{width}-jobs")
    page.click("#sm-tab-heatmap")
    assert overflow() <= 0
    page.click(".sm-heat-range[data-range=day]")
    assert overflow() <= 0
    shot(page, f"{width}-heatmap")
    page.goto(page.url.split("/scheduler-monitoring")[0] + "/scheduler-monitoring/jobs/beta_job")
    assert overflow() <= 0
    shot(page, f"{width}-job")
