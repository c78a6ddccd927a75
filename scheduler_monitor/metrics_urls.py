"""Prometheus endpoints: the process-wide ``/metrics`` and the API's scheduler-only one."""

from django.urls import path

from scheduler_monitor import metrics_views

urlpatterns = [
    path("metrics", metrics_views.process_metrics, name="scheduler_monitor_metrics"),
    path(
        "api/v1/scheduler/metrics/prometheus",
        metrics_views.scheduler_metrics,
        name="scheduler_monitor_prometheus",
    ),
]
