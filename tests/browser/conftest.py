"""Real Chromium (Debian's, driven by Playwright) against pytest-django's live server."""

import os
import re
from pathlib import Path

import pytest

from tests.dashboard.dataset import build_dataset  # tests/ is on sys.path (rootdir conftest)
from tests.external import require_binary

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pw-browser-123"

# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session (the system's; never a downloaded one)."""
    executable = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("SCHEDULER_MONITOR_REQUIRE_EXTERNAL") == "1":
            pytest.fail("playwright is not installed (SCHEDULER_MONITOR_REQUIRE_EXTERNAL=1)")
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable if executable else "/usr/bin/chromium",
            args=CHROMIUM_ARGS,
        )
        yield browser
        browser.close()


@pytest.fixture
def staff_user(transactional_db, django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)


@pytest.fixture
def browser_dataset(transactional_db):
    return build_dataset()


@pytest.fixture
def page(request, chromium):
    """A fresh browser context; its last view is saved as a screenshot whatever happens."""
    viewport = getattr(request, "param", None) or {"width": 1440, "height": 900}
    context = chromium.new_context(viewport=viewport, locale="en-US", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    SCREENSHOTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    context.close()


def shot(page, name: str) -> None:
    """Save an extra screenshot of the current view."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def login(live_server, staff_user):
    """Log in through the admin's own login form and land on the requested page."""

    def do(page, path="/scheduler-monitoring"):
        page.goto(live_server.url + path)
        assert "/admin/login/" in page.url
        page.fill("#id_username", staff_user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(re.escape(path.split("?")[0])))
        return page

    return do
