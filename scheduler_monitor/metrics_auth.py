"""Who may read the metrics: a DRF token (``Bearer`` or ``Token``) or a staff session."""

from django.http import HttpRequest, JsonResponse
from rest_framework.authtoken.models import Token

KEYWORDS = ("bearer", "token")


class MetricsAuthError(Exception):
    """The request may not read the metrics; the message says why."""


def check_metrics_access(request: HttpRequest) -> None:
    """Raise MetricsAuthError unless the request carries a valid token or a staff session."""
    header = request.headers.get("Authorization", "")
    if header:
        parts = header.split()
        if not parts or parts[0].lower() not in KEYWORDS:
            raise MetricsAuthError("Unsupported authorization scheme; use 'Bearer <token>'.")
        if len(parts) != 2:
            raise MetricsAuthError("Invalid token header: expected 'Bearer <token>'.")
        token = Token.objects.select_related("user").filter(key=parts[1]).first()
        if token is None or not token.user.is_active:
            raise MetricsAuthError("Invalid token.")
        return
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return
    raise MetricsAuthError("Authentication credentials were not provided.")


def unauthorized(message: str) -> JsonResponse:
    """A 401 in the API's envelope, telling the client to send a Bearer token."""
    response = JsonResponse({"code": 401, "message": message, "data": None}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
