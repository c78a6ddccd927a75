"""The API's response envelope and error shapes, for the schema only."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from scheduler_monitor.api.serializers.fields import UtcDateTimeField
from scheduler_monitor.api.serializers.jobs import (
    BatchResultSerializer,
    RunSerializer,
    TriggerRequestSerializer,
)
from scheduler_monitor.job_control import BATCH_ACTIONS


def enveloped(name: str, data: serializers.Field):
    """The schema of ``{code, message, data}`` around ``data``."""
    return inline_serializer(
        name=name,
        fields={
            "code": serializers.IntegerField(),
            "message": serializers.CharField(),
            "data": data,
        },
    )


ERROR = enveloped(
    "Error",
    serializers.DictField(
        allow_null=True, help_text="For bad input: {field, errors}; the field named."
    ),
)


ERROR_DESCRIPTIONS = {
    400: "Bad input: the message says what, data.field names the field.",
    401: "No credentials or a bad token (WWW-Authenticate: Bearer).",
    403: "Authenticated but lacking the permission.",
    404: "Unknown (or removed) job, unknown trigger request, or a page past the last.",
    409: "The job is running or already queued; add ?allow_concurrent=1 to run anyway.",
}


def errors(*codes: int) -> dict:
    """Error responses of an operation, each the envelope with a description."""
    return {code: OpenApiResponse(ERROR, description=ERROR_DESCRIPTIONS[code]) for code in codes}


def listing(name: str, key: str, item: serializers.Serializer):
    """``{"total": N, key: [item, ...]}``."""
    return inline_serializer(
        name=name, fields={"total": serializers.IntegerField(), key: item.__class__(many=True)}
    )


RUN_PAGE = inline_serializer(
    name="RunPage",
    fields={
        "count": serializers.IntegerField(),
        "page": serializers.IntegerField(),
        "page_size": serializers.IntegerField(),
        "pages": serializers.IntegerField(),
        "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
        "runs": RunSerializer(many=True),
    },
)


BATCH_DATA = inline_serializer(
    name="BatchData",
    fields={
        "action": serializers.ChoiceField(choices=BATCH_ACTIONS),
        "succeeded": serializers.IntegerField(),
        "failed": serializers.IntegerField(),
        "results": BatchResultSerializer(many=True),
    },
)


TRIGGERED = inline_serializer(
    name="Triggered",
    fields={
        "trigger": TriggerRequestSerializer(),
        "url": serializers.CharField(),
        "scheduler_running": serializers.BooleanField(),
    },
)


JOB_STATE = inline_serializer(
    name="JobState",
    fields={
        "job_id": serializers.CharField(),
        "paused": serializers.BooleanField(),
        "next_run_time": UtcDateTimeField(allow_null=True),
        "in_job_store": serializers.BooleanField(),
    },
)
