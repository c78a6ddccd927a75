"""The overview endpoints: scheduler status, heatmap, summary cards, alerts."""

from drf_spectacular.utils import extend_schema

from scheduler_monitor import (
    alert_rules,
    heatmaps,
    scheduler_events,
    scheduler_instances,
    summary,
)
from scheduler_monitor.api import serializers as s
from scheduler_monitor.api.envelope import envelope
from scheduler_monitor.api.views.base import READ_ERRORS, ApiView


class StatusView(ApiView):
    """Whether a scheduler runs jobs (lease-aware), the active and standby instances, counts."""

    @extend_schema(
        operation_id="scheduler_status",
        summary="Scheduler status",
        responses={200: s.enveloped("StatusResponse", s.StatusSerializer()), **READ_ERRORS},
    )
    def get(self, request):
        overview = scheduler_instances.scheduler_overview()
        current = overview.status
        data = {
            "running": overview.running,
            "state": "running" if overview.running else "stopped",
            "heartbeat_age_seconds": current.heartbeat_age_seconds,
            "registered_jobs": current.registered_jobs,
            "paused_jobs": current.paused_jobs,
            "instance": current.instance,
            **overview.roles.as_dict(),
            "recent_events": [
                scheduler_events.event_as_dict(e) for e in scheduler_events.recent_events()
            ],
        }
        return envelope(s.StatusSerializer(data).data)


class HeatmapView(ApiView):
    """Failed and abandoned runs per category per hour (or UTC day)."""

    @extend_schema(
        operation_id="heatmap",
        summary="Failures per category per hour (or day): the dashboard's heatmap",
        parameters=[s.HeatmapQuerySerializer],
        responses={200: s.enveloped("HeatmapResponse", s.HeatmapSerializer()), **READ_ERRORS},
    )
    def get(self, request):
        params = self.query(s.HeatmapQuerySerializer)
        heatmap = heatmaps.failure_heatmap(hours=params["hours"], bucket=params["bucket"])
        return envelope({"hours": params["hours"], **heatmap.as_dict()})


class SummaryView(ApiView):
    """The dashboard's cards, from the same selector as the pages."""

    @extend_schema(
        operation_id="summary",
        summary="The dashboard's cards",
        responses={200: s.enveloped("SummaryResponse", s.SummarySerializer()), **READ_ERRORS},
    )
    def get(self, request):
        return envelope(summary.dashboard_summary().as_dict())


class AlertsView(ApiView):
    """The firing alert rules, worst first, and the overall status."""

    @extend_schema(
        operation_id="alerts",
        summary="Firing alerts (as check_scheduler_alerts evaluates them) and overall status",
        responses={200: s.enveloped("AlertsResponse", s.AlertsSerializer()), **READ_ERRORS},
    )
    def get(self, request):
        return envelope(alert_rules.alerts_report().as_dict())
