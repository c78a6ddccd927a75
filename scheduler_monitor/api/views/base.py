"""What every API view shares: the envelope, auth, the query check, the job lookup."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from scheduler_monitor import (
    jobs,
)
from scheduler_monitor.api import serializers as s
from scheduler_monitor.api.auth import (
    AUTHENTICATION_CLASSES,
    CanViewJobs,
)
from scheduler_monitor.api.envelope import ApiError, exception_handler
from scheduler_monitor.registry import JOB_ID_PATTERN

READ_ERRORS = s.errors(400, 401, 403)


JOB_ID = OpenApiParameter("job_id", str, OpenApiParameter.PATH, description="The job's id.")


class ApiView(APIView):
    """Base of every endpoint: Bearer token or session, JSON only, errors in the envelope."""

    authentication_classes = AUTHENTICATION_CLASSES
    permission_classes = [CanViewJobs]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    schema = AutoSchema()

    def get_exception_handler(self):
        return exception_handler

    def query(self, serializer_class) -> dict:
        """Validated query parameters; a bad one (an empty one too) is a 400 naming it."""
        # A plain dict, not the QueryDict: DRF would read "?hours=" as "not given".
        serializer = serializer_class(data=self.request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def body(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def job_not_found(job_id: str, message: str | None = None) -> ApiError:
    return ApiError(
        message or f"job {job_id!r} does not exist",
        code=status.HTTP_404_NOT_FOUND,
        data={"field": "job_id", "job_id": job_id},
    )


def get_job(job_id: str):
    """The job with its job-store fields, or a 404."""
    # An id that could never be declared is not looked up (PostgreSQL rejects NUL bytes).
    job = jobs.job_api_get(job_id=job_id) if JOB_ID_PATTERN.match(job_id) else None
    if job is None:
        raise job_not_found(job_id)
    return job


class NotFoundView(ApiView):
    """Any other path under the API prefix: a 404 in the envelope."""

    permission_classes = [AllowAny]
    schema = None  # not an endpoint; kept out of the OpenAPI schema

    def handle(self, request, *args, **kwargs):
        raise ApiError(f"no API endpoint at {request.path}", code=status.HTTP_404_NOT_FOUND)

    get = post = put = patch = delete = handle
