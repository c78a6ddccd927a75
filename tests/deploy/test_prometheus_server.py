"""A real Prometheus scrapes the app served by gunicorn, with deploy/'s config and rules."""

import json
import math
import re
import statistics
import subprocess
import urllib.request
from datetime import timedelta

import pytest
import yaml
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from prometheus_client import generate_latest
from rest_framework.authtoken.models import Token

from scheduler_monitor import conf
from scheduler_monitor.exposition import SchedulerCollector
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from tests.deploy.prometheus_server import DEPLOY, prometheus_server, scrape_config
from tests.external import require_binary
from tests.live_app import gunicorn_app, wait_until
from tests.prometheus_parse import gzip_members

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# What Grafana would put in for the dashboard's variables.
GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "category": ".*",
    "job_id": ".*",
}


def grafana_expressions() -> list[str]:
    """Every PromQL expression of the dashboard, variables filled in as Grafana would."""
    dashboard = json.loads((DEPLOY / "grafana" / "scheduler_monitor.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            # label_values(metric, label) is Grafana's; Prometheus can evaluate the metric.
            exprs.append(re.fullmatch(r"label_values\((.*), \w+\)", query).group(1))

    def fill(match):
        name = match.group(1) or match.group(2)
        assert name in GRAFANA_VARIABLES, f"unknown dashboard variable ${name}"
        return GRAFANA_VARIABLES[name]

    return [re.sub(r"\$\{(\w+)\}|\$(\w+)", fill, expr) for expr in exprs]


def rule_expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "scheduler_monitor.rules.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def p95_bucket(durations_ms: list[float]) -> tuple[float, float]:
    """The histogram bucket (lower, upper seconds) holding the true p95 of the durations."""
    p95 = statistics.quantiles(durations_ms, n=100, method="inclusive")[94] / 1000
    bounds = [0.0, *conf.get("HISTOGRAM_BUCKETS")]
    for lower, upper in zip(bounds, bounds[1:], strict=False):
        if lower < p95 <= upper:
            return lower, upper
    raise AssertionError(p95)


@pytest.fixture
def seeded(make_job, record_run):
    """Two jobs with runs (one with an awkward name) and a scraper token on disk."""
    start = timezone.now() - timedelta(hours=1)
    durations = {"report": [], "odd": []}
    jobs = {
        "report": make_job("report", name="Report", category="Billing"),
        "odd": make_job("odd", name='Odd "名字" \\ x', category="Notifications"),
    }
    for i in range(60):
        for key, job in jobs.items():
            duration = (40 + 17 * (i % 11)) * (1 if key == "report" else 20)
            status = RunStatus.FAILURE if i % 7 == 0 else RunStatus.SUCCESS
            record_run(job, status=status, duration_ms=duration, started_at=start + i * 30 * SEC)
            durations[key].append(duration)
    user = User.objects.create_user("prometheus", password="x" * 12)
    user.user_permissions.add(Permission.objects.get(codename="view_jobdefinition"))
    return durations, Token.objects.create(user=user).key


SEC = timedelta(seconds=1)


def test_it_is_scraped_and_every_dashboard_and_rule_expression_evaluates(
    seeded, record_run, tmp_path
):
    """up is 1, counters equal the DB, quantiles are numbers, no expression errors,
    and deleting runs never resets a counter."""
    durations, token = seeded
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    with gunicorn_app() as base:
        target = base.removeprefix("http://")
        with prometheus_server(scrape_config(target=target, token_file=token_file)) as prom:
            prom.wait_for_value('up{job="scheduler_monitor"}', lambda v: v == 1)
            # /metrics asks for the token by default; the config's job sends it.
            prom.wait_for_value('up{job="django"}', lambda v: v == 1)
            report = JobDefinition.objects.get(job_id="report")
            assert (
                prom.wait_for_value(
                    'scheduler_job_success_total{job_id="report"}', lambda v: v >= 0
                )
                == report.success_count
            )
            assert prom.value('scheduler_job_failure_total{job_id="report"}') == (
                report.failure_count
            )
            odd = JobDefinition.objects.get(job_id="odd")
            assert prom.value('scheduler_job_success_total{job_name="Odd \\"名字\\" \\\\ x"}') == (
                odd.success_count
            )

            # Quantile from the cumulative buckets: a number inside the true p95's bucket.
            for job_id in ("report", "odd"):
                p95 = prom.value(
                    "histogram_quantile(0.95, sum by (le) "
                    f'(scheduler_job_duration_seconds_bucket{{job_id="{job_id}"}}))'
                )
                lower, upper = p95_bucket(durations[job_id])
                assert lower <= p95 <= upper, (job_id, p95, lower, upper)

            # New runs between scrapes: the rate-based quantile becomes a number too.
            for _ in range(5):
                record_run("report", duration_ms=300)
            prom.wait_for_value(
                "histogram_quantile(0.95, sum by (le) (rate("
                'scheduler_job_duration_seconds_bucket{job_id="report"}[30s])))',
                math.isfinite,
            )
            report.refresh_from_db()
            prom.wait_for_value(
                'scheduler_job_success_total{job_id="report"}',
                lambda v: v == report.success_count,
            )

            for expr in [*grafana_expressions(), *rule_expressions()]:
                answer = prom.query(expr)
                assert answer["status"] == "success", (expr, answer)

            def rules_evaluated():
                groups = prom.api("rules")["data"]["groups"]
                rules = [rule for group in groups for rule in group["rules"]]
                assert all(rule["health"] != "err" for rule in rules), rules
                done = all(rule["health"] == "ok" for rule in rules)
                return len(rules) == len(rule_expressions()) and done

            wait_until(rules_evaluated, timeout=30, what="every alert rule to be evaluated")

            # Pruning: delete every stored run; counters and buckets must not go down.
            samples = 'count_over_time(scheduler_job_success_total{job_id="report"}[1h])'
            before = prom.value(samples)
            JobRun.objects.all().delete()
            prom.wait_for_value(samples, lambda v: v >= before + 3)
            assert prom.values("resets(scheduler_job_success_total[1h]) > 0") == []
            assert prom.values("resets(scheduler_job_failure_total[1h]) > 0") == []
            assert prom.values("resets(scheduler_job_duration_seconds_bucket[1h]) > 0") == []
            assert prom.value('scheduler_job_success_total{job_id="report"}') == (
                report.success_count
            )


# What Prometheus 2.x sends with every scrape (scrape/scrape.go): OpenMetrics first, gzip.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def test_it_reads_every_gzip_member_of_a_scrape_of_many_jobs(make_job, record_run, tmp_path):
    """The gzipped body is one gzip member per segment of 16 jobs of a family (~130 here):
    Prometheus reads them all (every sample counted), and a run of the job whose lines sit
    in the last members shows up."""
    jobs = [make_job(f"many_{i:03d}", category=f"Category {i % 3}") for i in range(100)]
    for job in jobs[::4]:
        record_run(job)
    user = User.objects.create_user("prometheus", password="x" * 12)
    user.user_permissions.add(Permission.objects.get(codename="view_jobdefinition"))
    token = Token.objects.create(user=user).key
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    last = JobDefinition.objects.order_by("category", "job_id").last()
    with gunicorn_app() as base:
        request = urllib.request.Request(
            f"{base}/api/v1/scheduler/metrics/prometheus",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": PROMETHEUS_ACCEPT,
                "Accept-Encoding": "gzip",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert response.headers["Content-Encoding"] == "gzip"
            members = gzip_members(response.read())
        text = b"".join(members)
        assert len(members) > 100
        # curl reads only a first gzip member: it is given the body as one.
        curl = subprocess.run(
            [require_binary("curl"), "-sS", "--compressed", "-H", f"Authorization: Bearer {token}"]
            + [f"{base}/api/v1/scheduler/metrics/prometheus"],
            capture_output=True,
            check=True,
        ).stdout
        assert curl == generate_latest(SchedulerCollector())
        samples = [line for line in text.splitlines() if line and not line.startswith(b"#")]
        config = scrape_config(target=base.removeprefix("http://"), token_file=token_file)
        with prometheus_server(config) as prom:
            prom.wait_for_value(
                'scrape_samples_scraped{job="scheduler_monitor"}', lambda v: v == len(samples)
            )
            assert prom.value('up{job="scheduler_monitor"}') == 1
            assert prom.value('count(scheduler_job_success_total{job="scheduler_monitor"})') == 100
            for _ in range(3):
                record_run(last)
            prom.wait_for_value(
                f'scheduler_job_success_total{{job="scheduler_monitor",job_id="{last.job_id}"}}',
                lambda v: v == 3 + (last in jobs[::4]),
            )
