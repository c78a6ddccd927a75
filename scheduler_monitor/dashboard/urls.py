"""The dashboard's pages (staff only, inside the admin's login)."""

from django.urls import path

from scheduler_monitor.compression import gzip_patterns
from scheduler_monitor.dashboard import incidents, job_control, views

urlpatterns = gzip_patterns(
    [
        path(
            "scheduler-monitoring/incidents/<int:incident_id>/<slug:action>",
            incidents.incident_action,
            name="scheduler_monitor_incident_action",
        ),
        path("scheduler-monitoring", views.dashboard, name="scheduler_monitor_dashboard"),
        path("scheduler-monitoring/", views.dashboard),
        path(
            "scheduler-monitoring/fragments",
            views.dashboard_fragments,
            name="scheduler_monitor_fragments",
        ),
        path(
            "scheduler-monitoring/export.prom",
            views.export_prometheus,
            name="scheduler_monitor_export",
        ),
        path(
            "scheduler-monitoring/jobs/<str:job_id>",
            views.job_detail,
            name="scheduler_monitor_job",
        ),
        # Before the generic action route, which would take "schedule" for an action.
        *job_control.urlpatterns,
        path(
            "scheduler-monitoring/jobs/<str:job_id>/<slug:action>",
            views.job_action,
            name="scheduler_monitor_job_action",
        ),
    ]
)
