"""Prometheus endpoints: the process-wide ``/metrics`` and the API's scheduler-only one."""

from django.urls import path

from scheduler_monitor.metrics import views

urlpatterns = [
    path("metrics", views.process_metrics, name="scheduler_monitor_metrics"),
    path(
        "api/v1/scheduler/metrics/prometheus",
        views.scheduler_metrics,
        name="scheduler_monitor_prometheus",
    ),
]
