"""The JSON API under ``/api/v1/scheduler/``: thin views over the domain modules."""

from scheduler_monitor.api.views.base import NotFoundView  # noqa: F401
from scheduler_monitor.api.views.job_control import (  # noqa: F401
    JobBatchView,
    JobPauseView,
    JobResumeView,
    JobTriggerView,
    TriggerDetailView,
)
from scheduler_monitor.api.views.jobs import (  # noqa: F401
    JobDetailView,
    JobListView,
    JobRunsView,
    MetricsView,
    ServiceListView,
)
from scheduler_monitor.api.views.overview import (  # noqa: F401
    AlertsView,
    HeatmapView,
    StatusView,
    SummaryView,
)
