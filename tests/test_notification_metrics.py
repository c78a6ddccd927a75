"""Incident and notification families: values checked against the rows the test made."""

import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
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
from tests.prometheus_parse import parse, sample

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


def test_it_exports_open_incidents_attempts_latency_and_pending(make_job):
    hook = NotificationChannel.objects.create(name="hook", kind="webhook", target="http://x/")
    NotificationChannel.objects.create(name="mail", kind="email", target="a@b.c")
    fire([make_job(), make_job()], down=True)  # 3 incidents x 2 channels = 6 messages
    messages = list(OutboxMessage.objects.order_by("pk"))
    now = timezone.now()
    # Three delivered after 0.3 s, 4 s and 50 s; one webhook failed once then delivered.
    for message, seconds in zip(messages[:3], (0.3, 4, 50), strict=True):
        OutboxMessage.objects.filter(pk=message.pk).update(
            state="sent", sent_at=message.created_at + timedelta(seconds=seconds)
        )
    for message in messages[:3]:
        DeliveryAttempt.objects.create(
            message=message, number=1, started_at=now, duration_ms=5, ok=True, status_code=200
        )
    webhook = next(m for m in messages if m.channel_id == hook.pk)
    DeliveryAttempt.objects.create(
        message=webhook, number=0, started_at=now, duration_ms=5, ok=False, status_code=500
    )
    families = parse(scrape_text())
    assert sample(families, "scheduler_incidents_open", severity="warning") == 2
    assert sample(families, "scheduler_incidents_open", severity="critical") == 1
    delivered = {"hook": 0, "mail": 0}
    for message in messages[:3]:
        delivered[message.channel.name] += 1
    for channel, count in delivered.items():
        value = sample(
            families, "scheduler_notifications_sent_total", channel=channel, outcome="delivered"
        )
        assert value == (count or None)
    assert (
        sample(families, "scheduler_notifications_sent_total", channel="hook", outcome="failed")
        == 1
    )
    buckets = {
        labels["le"]: value
        for name, labels, value in families["scheduler_notification_latency_seconds"]["samples"]
        if name.endswith("_bucket")
    }
    assert buckets["0.5"] == 1 and buckets["2"] == 1 and buckets["5"] == 2
    assert buckets["30"] == 2 and buckets["60"] == 3 and buckets["+Inf"] == 3
    assert sample(families, "scheduler_notification_latency_seconds_count") == 3
    assert sample(families, "scheduler_notification_latency_seconds_sum") == pytest.approx(54.3)
    assert sample(families, "scheduler_notification_outbox_pending") == 3


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
