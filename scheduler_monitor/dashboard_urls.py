"""The dashboard's pages (staff only, inside the admin's login)."""

from django.urls import path

from scheduler_monitor import dashboard
from scheduler_monitor.compression import gzip_patterns

urlpatterns = gzip_patterns(
    [
        path("scheduler-monitoring", dashboard.dashboard, name="scheduler_monitor_dashboard"),
        path("scheduler-monitoring/", dashboard.dashboard),
        path(
            "scheduler-monitoring/fragments",
            dashboard.dashboard_fragments,
            name="scheduler_monitor_fragments",
        ),
        path(
            "scheduler-monitoring/export.prom",
            dashboard.export_prometheus,
            name="scheduler_monitor_export",
        ),
        path(
            "scheduler-monitoring/jobs/<str:job_id>",
            dashboard.job_detail,
            name="scheduler_monitor_job",
        ),
        path(
            "scheduler-monitoring/jobs/<str:job_id>/<slug:action>",
            dashboard.job_action,
            name="scheduler_monitor_job_action",
        ),
    ]
)
