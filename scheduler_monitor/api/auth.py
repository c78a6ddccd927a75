"""Who may use the API: DRF tokens as ``Bearer`` (or ``Token``) plus the admin session."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

from scheduler_monitor.access import (
    CHANGE_PERMISSION,
    TRIGGER_PERMISSION,
    VIEW_PERMISSION,
    BearerTokenAuthentication,
)

AUTHENTICATION_CLASSES = [BearerTokenAuthentication, SessionAuthentication]


def _authenticated(request) -> bool:
    return bool(request.user and request.user.is_authenticated)


class CanViewJobs(BasePermission):
    """Staff, or anyone with the ``view_jobdefinition`` permission."""

    message = "You need the 'view job' permission (or staff status) to read the scheduler API."

    def has_permission(self, request, view):
        user = request.user
        return _authenticated(request) and (user.is_staff or user.has_perm(VIEW_PERMISSION))


class CanTriggerJobs(BasePermission):
    message = "You need the 'trigger job' permission to trigger a job."

    def has_permission(self, request, view):
        return _authenticated(request) and request.user.has_perm(TRIGGER_PERMISSION)


class CanChangeJobs(BasePermission):
    message = "You need the 'change job' permission to pause or resume a job."

    def has_permission(self, request, view):
        return _authenticated(request) and request.user.has_perm(CHANGE_PERMISSION)


class CanWriteJobs(BasePermission):
    """Either write permission; the batch view checks the one its action needs."""

    message = "You need the 'trigger job' or 'change job' permission."

    def has_permission(self, request, view):
        user = request.user
        return _authenticated(request) and (
            user.has_perm(TRIGGER_PERMISSION) or user.has_perm(CHANGE_PERMISSION)
        )
