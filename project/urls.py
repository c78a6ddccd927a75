from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # The dashboard is also reachable under the admin's URLs (before the admin's catch-all).
    path(
        "admin/scheduler-monitoring/",
        RedirectView.as_view(pattern_name="scheduler_monitor_dashboard", query_string=True),
    ),
    path("admin/", admin.site.urls),
    path("", include("scheduler_monitor.urls")),
]
