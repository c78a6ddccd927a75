"""The JSON API, mounted at ``/api/v1/scheduler/``."""

from django.urls import path, re_path

from scheduler_monitor.api import views
from scheduler_monitor.api.views import incidents
from scheduler_monitor.compression import gzip_patterns

urlpatterns = gzip_patterns(
    [
        path("status", views.StatusView.as_view(), name="scheduler-api-status"),
        path("jobs", views.JobListView.as_view(), name="scheduler-api-jobs"),
        # Before jobs/<job_id>, so "batch" is never taken for a job id.
        path("jobs/batch", views.JobBatchView.as_view(), name="scheduler-api-batch"),
        path("jobs/<str:job_id>", views.JobView.as_view(), name="scheduler-api-job"),
        path(
            "jobs/<str:job_id>/schedule/reset",
            views.JobScheduleResetView.as_view(),
            name="scheduler-api-schedule-reset",
        ),
        path("jobs/<str:job_id>/runs", views.JobRunsView.as_view(), name="scheduler-api-runs"),
        path(
            "jobs/<str:job_id>/trigger",
            views.JobTriggerView.as_view(),
            name="scheduler-api-trigger-job",
        ),
        path("jobs/<str:job_id>/pause", views.JobPauseView.as_view(), name="scheduler-api-pause"),
        path(
            "jobs/<str:job_id>/resume", views.JobResumeView.as_view(), name="scheduler-api-resume"
        ),
        path("triggers/<int:pk>", views.TriggerDetailView.as_view(), name="scheduler-api-trigger"),
        path("metrics", views.MetricsView.as_view(), name="scheduler-api-metrics"),
        path("services/list", views.ServiceListView.as_view(), name="scheduler-api-services"),
        path("heatmap", views.HeatmapView.as_view(), name="scheduler-api-heatmap"),
        path("summary", views.SummaryView.as_view(), name="scheduler-api-summary"),
        path("alerts", views.AlertsView.as_view(), name="scheduler-api-alerts"),
        path("audit", views.AuditListView.as_view(), name="scheduler-api-audit"),
        path("incidents", incidents.IncidentListView.as_view(), name="scheduler-api-incidents"),
        path(
            "incidents/<int:incident_id>",
            incidents.IncidentDetailView.as_view(),
            name="scheduler-api-incident",
        ),
        path(
            "incidents/<int:incident_id>/ack",
            incidents.IncidentAcknowledgeView.as_view(),
            name="scheduler-api-incident-ack",
        ),
        path(
            "incidents/<int:incident_id>/resolve",
            incidents.IncidentResolveView.as_view(),
            name="scheduler-api-incident-resolve",
        ),
        path("silences", incidents.SilenceListView.as_view(), name="scheduler-api-silences"),
        # Anything else under the prefix is a 404 in the envelope, not an HTML page.
        re_path(r"^[\s\S]*$", views.NotFoundView.as_view(), name="scheduler-api-not-found"),
    ]
)
