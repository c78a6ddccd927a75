"""promtool's own checks on our exposition and on the alert rules."""

import re
import subprocess

import pytest

from tests.deploy.prometheus_server import DEPLOY
from tests.external import require_binary

pytestmark = pytest.mark.slow

BRIEF_MS_FAMILIES = {
    "scheduler_job_last_duration_ms",
    *(f"scheduler_job_duration_{s}_ms" for s in ("avg", "p50", "p95", "p99", "min", "max")),
}


@pytest.fixture
def exposition(client, admin_user, make_job, record_run):
    """Fetch an endpoint's exposition after recording runs of an awkwardly named job."""
    job = make_job("lint_me", name='Quote " backslash \\ newline\n中文', owner="SRE")
    record_run(job, duration_ms=42)
    record_run(job, duration_ms=4200, status="failure")
    client.force_login(admin_user)

    def fetch(url):
        response = client.get(url)
        assert response.status_code == 200
        return response.content

    return fetch


def check_metrics(body: bytes) -> subprocess.CompletedProcess:
    promtool = require_binary("promtool")
    return subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60
    )


@pytest.mark.parametrize("url", ["/api/v1/scheduler/metrics/prometheus", "/metrics"])
def test_it_only_flags_the_brief_families_abbreviated_units(exposition, url):
    """With the brief's families on, every finding is one of their `_ms` names."""
    result = check_metrics(exposition(url))
    findings = (result.stdout + result.stderr).decode().strip().splitlines()
    assert result.returncode == 3, findings
    flagged = set()
    for line in findings:
        match = re.fullmatch(r"(\w+) metric names should not contain abbreviated units", line)
        assert match, f"unexpected promtool finding: {line!r}"
        flagged.add(match.group(1))
    assert flagged == BRIEF_MS_FAMILIES


@pytest.mark.parametrize("url", ["/api/v1/scheduler/metrics/prometheus", "/metrics"])
def test_it_lints_clean_without_the_brief_families(exposition, settings, url):
    """With BRIEF_METRICS off, promtool finds nothing and exits 0."""
    settings.SCHEDULER_MONITOR = {"BRIEF_METRICS": False}
    body = exposition(url)
    assert b"scheduler_job_duration_seconds_bucket" in body
    result = check_metrics(body)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert (result.stdout + result.stderr).strip() == b""


def test_it_ships_alert_rules_promtool_accepts():
    """promtool check rules passes on deploy/'s rules file, with all nine alerts."""
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", str(DEPLOY / "scheduler_monitor.rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout
