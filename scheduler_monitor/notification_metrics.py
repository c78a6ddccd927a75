"""Incident and notification figures, and their Prometheus families (three queries).

- ``scheduler_incidents_open{severity}``: open incidents now.
- ``scheduler_notifications_sent_total{channel,outcome}``: delivery tries by outcome
  (``delivered`` or ``failed``), from the channel's own counters, so it only grows.
- ``scheduler_notification_latency_seconds``: histogram of the time from the incident change
  (the outbox row) to its delivery, over delivered messages.
- ``scheduler_notification_outbox_pending``: messages waiting for a (first or next) try.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from scheduler_monitor.models import (
    Incident,
    IncidentState,
    NotificationChannel,
    OutboxMessage,
    OutboxState,
    Severity,
)

LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


@dataclass
class NotificationFigures:
    open_by_severity: dict[str, int] = field(default_factory=dict)
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, outcome)
    latency_buckets: list[tuple[str, int]] = field(default_factory=list)  # cumulative
    latency_sum_seconds: float = 0.0
    pending: int = 0


def notification_figures() -> NotificationFigures:
    """Read every figure (three queries whatever the number of incidents and messages)."""
    figures = NotificationFigures(open_by_severity={s: 0 for s in Severity.values})
    rows = (
        Incident.objects.filter(state=IncidentState.OPEN)
        .order_by()
        .values("severity")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        figures.open_by_severity[row["severity"]] = row["n"]
    channels = NotificationChannel.objects.values_list("name", "delivered_count", "failed_count")
    for name, delivered, failed in channels:
        figures.attempts[(name, "delivered")] = delivered
        figures.attempts[(name, "failed")] = failed
    latency = ExpressionWrapper(F("sent_at") - F("created_at"), output_field=DurationField())
    sent = Q(state=OutboxState.SENT, sent_at__isnull=False)
    buckets = {
        f"le_{i}": Count("pk", filter=sent & Q(latency__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(LATENCY_BUCKETS)
    }
    totals = (
        OutboxMessage.objects.order_by()
        .annotate(latency=latency)
        .aggregate(
            sent=Count("pk", filter=sent),
            latency_sum=Sum("latency", filter=sent),
            pending=Count("pk", filter=Q(state=OutboxState.PENDING)),
            **buckets,
        )
    )
    figures.latency_buckets = [
        (f"{bound:g}", totals[f"le_{i}"]) for i, bound in enumerate(LATENCY_BUCKETS)
    ] + [("+Inf", totals["sent"])]
    total = totals["latency_sum"]
    figures.latency_sum_seconds = total.total_seconds() if total is not None else 0.0
    figures.pending = totals["pending"]
    return figures


def notification_families(figures: NotificationFigures | None = None) -> list:
    """The four families; with ``figures`` None, read them now."""
    families = empty_families()
    if figures is None:
        figures = notification_figures()
    for severity, count in sorted(figures.open_by_severity.items()):
        families[0].add_metric([severity], count)
    for (channel, outcome), count in sorted(figures.attempts.items()):
        families[1].add_metric([channel, outcome], count)
    families[2].add_metric([], figures.latency_buckets, figures.latency_sum_seconds)
    families[3].add_metric([], figures.pending)
    return families


def empty_families() -> list:
    return [
        GaugeMetricFamily(
            "scheduler_incidents_open", "Open incidents by severity.", labels=["severity"]
        ),
        CounterMetricFamily(
            "scheduler_notifications_sent",
            "Notification delivery attempts by channel and outcome (delivered or failed).",
            labels=["channel", "outcome"],
        ),
        HistogramMetricFamily(
            "scheduler_notification_latency_seconds",
            "Time from an incident change to the delivery of its message, in seconds.",
        ),
        GaugeMetricFamily(
            "scheduler_notification_outbox_pending",
            "Notification messages waiting for a first or next delivery try.",
        ),
    ]
