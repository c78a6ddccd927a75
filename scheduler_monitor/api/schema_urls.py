"""The OpenAPI 3 schema of the API, mounted at ``/api/v1/``.

Served by drf-spectacular. A host without it (or without its ``DEFAULT_SCHEMA_CLASS``)
gets a 501 in the API's envelope naming the missing setting, not a 500; ``manage.py
check`` says the same (``scheduler_monitor.W003``). The schema follows the API's
authentication (a token or staff session with the view right) unless
``SCHEDULER_MONITOR["SCHEMA_PUBLIC"]`` opens it; errors come in the API's envelope.
"""

import functools

from django.http import JsonResponse
from django.urls import path

from scheduler_monitor.checks import SCHEMA_HINT, schema_problem


@functools.cache
def schema_view():
    """drf-spectacular's schema view behind the API's own authentication (imported only
    when drf-spectacular is there)."""
    from drf_spectacular.views import SpectacularAPIView
    from rest_framework.permissions import AllowAny

    from scheduler_monitor import conf
    from scheduler_monitor.api.auth import AUTHENTICATION_CLASSES, CanViewJobs
    from scheduler_monitor.api.envelope import exception_handler

    class SchemaView(SpectacularAPIView):
        authentication_classes = AUTHENTICATION_CLASSES

        def get_permissions(self):
            return [AllowAny()] if conf.get("SCHEMA_PUBLIC") else [CanViewJobs()]

        def get_exception_handler(self):
            return exception_handler

    return SchemaView.as_view()


def schema(request, *args, **kwargs):
    """The schema, or a 501 envelope saying which setting it needs."""
    problem = schema_problem()
    if problem:
        return JsonResponse(
            {
                "code": 501,
                "message": f"The OpenAPI schema is not configured: {problem}. {SCHEMA_HINT}",
                "data": None,
            },
            status=501,
        )
    return schema_view()(request, *args, **kwargs)


urlpatterns = [
    path("schema/", schema, name="scheduler-api-schema"),
]
