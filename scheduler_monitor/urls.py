"""Every URL the app serves; a host project includes this at its root."""

from django.urls import include, path

urlpatterns = [
    # Before the API: /api/v1/scheduler/metrics/prometheus is served by the metrics module.
    path("", include("scheduler_monitor.metrics.urls")),
    path("api/v1/scheduler/", include("scheduler_monitor.api.urls")),
    path("api/v1/", include("scheduler_monitor.api.schema_urls")),
    path("", include("scheduler_monitor.dashboard.urls")),
]
