"""Who may read the metrics: the API's own rules (Bearer/Token or staff session, view right)."""

from django.http import HttpRequest, JsonResponse
from rest_framework.exceptions import AuthenticationFailed

from scheduler_monitor.access import VIEW_PERMISSION, BearerTokenAuthentication


class MetricsAuthError(Exception):
    """The request may not read the metrics; the message says why."""

    status = 401


class MetricsForbidden(MetricsAuthError):
    status = 403


def check_metrics_access(request: HttpRequest) -> None:
    """Raise MetricsAuthError unless a token or session user may view the jobs."""
    try:
        authenticated = BearerTokenAuthentication().authenticate(request)
    except AuthenticationFailed as exc:
        raise MetricsAuthError(str(exc.detail)) from exc
    if request.headers.get("Authorization") and authenticated is None:
        raise MetricsAuthError("Unsupported authorization scheme; use 'Bearer <token>'.")
    user = authenticated[0] if authenticated else getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise MetricsAuthError("Authentication credentials were not provided.")
    if not (user.is_staff or user.has_perm(VIEW_PERMISSION)):
        raise MetricsForbidden(
            "You need the 'view job' permission (or staff status) to read the metrics."
        )


def auth_error_response(error: MetricsAuthError) -> JsonResponse:
    """The error in the API's envelope; a 401 tells the client to send a Bearer token."""
    response = JsonResponse(
        {"code": error.status, "message": str(error), "data": None}, status=error.status
    )
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
