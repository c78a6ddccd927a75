"""Incident and notification families: values checked against the rows the test made."""

import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import CollectorRegistry, generate_latest

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.exposition import SchedulerCollector
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import (
    DeliveryAttempt,
    NotificationChannel,
    OutboxMessage,
)
from scheduler_monitor.notification_metrics import notification_figures
from scheduler_monitor.outbox import outbox_drain
from tests.prometheus_parse import parse, sample
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db
RULES = [
    {"name": "failing", "kind": "consecutive_failures", "severity": "warning"},
    {"name": "down", "kind": "scheduler_down", "severity": "critical"},
]


def scrape_text() -> str:
    registry = CollectorRegistry()
    registry.register(SchedulerCollector())
    return generate_latest(registry).decode()


def fire(jobs, down=False):
    alerts = [
        Alert(
            rule="failing",
            kind="consecutive_failures",
            severity="warning",
            message="m",
            job_id=j.job_id,
        )
        for j in jobs
    ]
    if down:
        alerts.append(Alert(rule="down", kind="scheduler_down", severity="critical", message="m"))
    incidents_evaluate(rules=RULES, alerts=alerts)


def test_it_exports_open_incidents_attempts_latency_and_pending(make_job, settings):
    """Real deliveries to two receivers (one answers 500 once), latencies set on the rows."""
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "NOTIFICATION_RETRY_DELAYS": [0, 0],
    }
    with Receiver(statuses=[500]) as flaky, Receiver() as steady:
        NotificationChannel.objects.create(name="flaky", kind="webhook", target=flaky.url)
        NotificationChannel.objects.create(name="steady", kind="webhook", target=steady.url)
        fire([make_job(), make_job()], down=True)  # 3 incidents x 2 channels = 6 messages
        outbox_drain()
        outbox_drain()  # the one that got a 500 is due again at once
        answered = {"flaky": flaky.answered, "steady": steady.answered}
    assert answered == {"flaky": [500, 200, 200, 200], "steady": [200, 200, 200]}
    messages = list(OutboxMessage.objects.order_by("pk"))
    latencies = [0.3, 4, 50, 100, 700, 2000]
    for message, seconds in zip(messages, latencies, strict=True):
        OutboxMessage.objects.filter(pk=message.pk).update(
            sent_at=message.created_at + timedelta(seconds=seconds)
        )
    fire([make_job()])  # one more incident: 2 messages not sent yet
    families = parse(scrape_text())
    assert sample(families, "scheduler_incidents_open", severity="warning") == 3
    assert sample(families, "scheduler_incidents_open", severity="critical") == 1
    sent = "scheduler_notifications_sent_total"
    assert sample(families, sent, channel="flaky", outcome="delivered") == 3
    assert sample(families, sent, channel="flaky", outcome="failed") == 1
    assert sample(families, sent, channel="steady", outcome="delivered") == 3
    assert sample(families, sent, channel="steady", outcome="failed") == 0
    buckets = {
        labels["le"]: value
        for name, labels, value in families["scheduler_notification_latency_seconds"]["samples"]
        if name.endswith("_bucket")
    }
    expected = {
        bound: sum(1 for x in latencies if x <= float(bound))
        for bound in ("0.5", "1", "2", "5", "10", "30", "60", "120", "300", "600", "1800")
    }
    assert {k: v for k, v in buckets.items() if k != "+Inf"} == expected
    assert buckets["+Inf"] == 6
    assert sample(families, "scheduler_notification_latency_seconds_count") == 6
    assert sample(families, "scheduler_notification_latency_seconds_sum") == pytest.approx(
        sum(latencies)
    )
    assert sample(families, "scheduler_notification_outbox_pending") == 2
    # Deleting old messages and their tries never lowers the counters.
    OutboxMessage.objects.all().delete()
    assert not DeliveryAttempt.objects.exists()
    again = parse(scrape_text())
    assert sample(again, sent, channel="flaky", outcome="delivered") == 3


def test_the_figures_cost_three_queries_for_any_number_of_incidents(make_job):
    NotificationChannel.objects.create(name="mail", kind="email", target="a@b.c")
    counts = []
    for n in (2, 20):
        fire([make_job() for _ in range(n)])
        with CaptureQueriesContext(connection) as queries:
            notification_figures()
        counts.append(len(queries))
    assert counts == [3, 3]


def test_the_exposition_passes_promtool(make_job, tmp_path):
    """promtool check metrics: the new families lint clean (the brief's _ms ones aside)."""
    NotificationChannel.objects.create(name="mail", kind="email", target="a@b.c")
    fire([make_job()], down=True)
    try:
        result = subprocess.run(
            ["promtool", "check", "metrics"],
            input=scrape_text(),
            capture_output=True,
            text=True,
            timeout=30,
        )
    except FileNotFoundError:
        pytest.skip("promtool is not installed")
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "notification" in line or "incident" in line
    ]
    assert problems == []
