"""The brief's envelope: every response, success or error, is ``{code, message, data}``."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def envelope(data, *, code: int = status.HTTP_200_OK, message: str = "success", headers=None):
    """A response whose body is the envelope and whose HTTP status is ``code``."""
    return Response({"code": code, "message": message, "data": data}, status=code, headers=headers)


class ApiError(exceptions.APIException):
    """An error with a status, a message and the field (or job) it is about."""

    def __init__(
        self, message: str, *, code: int, data: dict | None = None, retry_after: int | None = None
    ):
        super().__init__(detail=message)
        self.status_code = code
        self.data = data
        self.wait = retry_after  # DRF's handler sends it as the Retry-After header


def _first_message(detail, path: str = "") -> tuple[str, str]:
    """The first (field path, message) of a nested validation error."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key) if not path else f"{path}.{key}"
            if key == "non_field_errors":
                name = path
            return _first_message(value, name)
    if isinstance(detail, list) and detail:
        first = detail[0]
        if isinstance(first, dict | list):
            return _first_message(first, path)
        return path, str(first)
    return path, str(detail)


def exception_handler(exc, context):
    """DRF's handler, with the body rewritten into the envelope (message + offending field)."""
    if isinstance(exc, RequestDataTooBig):
        # Django would answer its own HTML 400 page; the API answers in its envelope.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = ApiError(
            f"Request body too large (over {limit} bytes)",
            code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            data={"max_bytes": limit},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling and logging apply
    code = response.status_code
    if isinstance(exc, ApiError):
        message, data = str(exc.detail), exc.data
    elif isinstance(exc, exceptions.ValidationError):
        field, text = _first_message(exc.detail)
        message = f"{field}: {text}" if field else text
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        data = {"field": field or None, "errors": errors}
    else:
        detail = getattr(exc, "detail", None)
        message = str(detail) if detail is not None else str(exc)
        data = None
    response.data = {"code": code, "message": message, "data": data}
    return response
