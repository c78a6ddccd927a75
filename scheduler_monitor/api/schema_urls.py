"""The OpenAPI 3 schema of the API, mounted at ``/api/v1/``.

Served by drf-spectacular. A host without it (or without its ``DEFAULT_SCHEMA_CLASS``)
gets a 501 in the API's envelope naming the missing setting, not a 500; ``manage.py
check`` says the same (``scheduler_monitor.W003``).
"""

from django.http import JsonResponse
from django.urls import path

from scheduler_monitor.checks import SCHEMA_HINT, schema_problem


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
    from drf_spectacular.views import SpectacularAPIView

    return SpectacularAPIView.as_view()(request, *args, **kwargs)


urlpatterns = [
    path("schema/", schema, name="scheduler-api-schema"),
]
