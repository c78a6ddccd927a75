"""The OpenAPI 3 schema of the API, mounted at ``/api/v1/``.

It follows the API's authentication (a token or staff session with the view right) unless
``SCHEDULER_MONITOR["SCHEMA_PUBLIC"]`` opens it; errors come in the API's envelope.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from scheduler_monitor import conf
from scheduler_monitor.api.auth import AUTHENTICATION_CLASSES, CanViewJobs
from scheduler_monitor.api.envelope import exception_handler


class SchemaView(SpectacularAPIView):
    """drf-spectacular's schema view behind the API's own authentication."""

    authentication_classes = AUTHENTICATION_CLASSES

    def get_permissions(self):
        return [AllowAny()] if conf.get("SCHEMA_PUBLIC") else [CanViewJobs()]

    def get_exception_handler(self):
        return exception_handler


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="scheduler-api-schema"),
]
