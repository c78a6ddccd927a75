"""Who may use the app's endpoints: the permission names and the Bearer token scheme.

Shared by the API and the Prometheus scrape endpoints, so both accept the same tokens.
"""

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

VIEW_PERMISSION = "scheduler_monitor.view_jobdefinition"
TRIGGER_PERMISSION = "scheduler_monitor.trigger_job"
CHANGE_PERMISSION = "scheduler_monitor.change_jobdefinition"


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``; DRF's own ``Token <token>`` is accepted too."""

    keyword = "Bearer"
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Bearer <token>'."
            )
        return self.authenticate_credentials(parts[1])

    def authenticate_header(self, request):
        # DRF answers 401 (not 403) only when the first authenticator names a scheme.
        return 'Bearer realm="api"'
