"""The incident banner in real Chromium: it appears with a refresh, and its buttons work."""

import pytest

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import IncidentEvent, Silence

from .conftest import shot

pytestmark = pytest.mark.slow
RULES = [{"name": "failing", "kind": "consecutive_failures", "severity": "critical"}]


def fire(job_id: str):
    incidents_evaluate(
        rules=RULES,
        alerts=[
            Alert(
                rule="failing",
                kind="consecutive_failures",
                severity="critical",
                message="the last 3 runs failed",
                job_id=job_id,
            )
        ],
    )


def test_an_incident_appears_on_refresh_and_is_acknowledged_and_silenced(
    page, login, browser_dataset
):
    from playwright.sync_api import expect

    login(page, "/scheduler-monitoring?refresh=1")
    banner = page.locator("#sm-incidents")
    expect(banner).to_be_hidden()
    fire("alpha_job")
    expect(banner).to_be_visible(timeout=10_000)  # the auto-refresh brought it
    expect(banner.locator("li[data-key='failing:alpha_job']")).to_contain_text(
        "the last 3 runs failed"
    )
    shot(page, "incident-banner")
    page.select_option("#sm-refresh-interval", "0")
    banner.locator("button.sm-ack").click()
    page.wait_for_load_state()
    expect(page.locator("#sm-incidents")).to_contain_text("acknowledged by admin")
    assert IncidentEvent.objects.filter(kind="acknowledged", actor="admin").count() == 1
    page.locator("#sm-incidents select[name=minutes]").select_option("240")
    page.locator("#sm-incidents button.sm-silence").click()
    page.wait_for_load_state()
    expect(page.locator("#sm-incidents .sm-silences")).to_contain_text("alpha_job")
    silence = Silence.objects.get()
    assert (silence.value, (silence.ends_at - silence.starts_at).total_seconds()) == (
        "alpha_job",
        240 * 60,
    )
    assert page.js_errors == []


@pytest.mark.parametrize("page", [{"width": 375, "height": 800}], indirect=True)
def test_the_banner_fits_a_phone_screen(page, login, browser_dataset):
    """At 375 px the banner with its buttons does not make the page scroll sideways."""
    fire("alpha_job")
    fire("beta_job")
    login(page)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    shot(page, "incident-banner-375")
    assert overflow <= 0
