"""What the API reads from requests: query parameters and JSON bodies, validated."""

from rest_framework import serializers

from scheduler_monitor.api.serializers.fields import (
    MAX_BATCH_SIZE,
    MAX_HEATMAP_HOURS,
    MAX_PAGE,
    NO_NUL,
    StrictBooleanField,
    StrictCharField,
    TextParamField,
    UtcDateTimeField,
)
from scheduler_monitor.job_control import BATCH_ACTIONS
from scheduler_monitor.jobs import JOB_ORDERING_FIELDS
from scheduler_monitor.models import RunStatus, RunTrigger
from scheduler_monitor.runs import RUNS_PAGE_SIZE_MAX


class JobListQuerySerializer(serializers.Serializer):
    # Exact matches: nothing trimmed, and empty selects jobs without a category/owner.
    category = TextParamField(
        trim_whitespace=False, help_text="Exact category (empty: jobs without one)."
    )
    owner = TextParamField(
        trim_whitespace=False, help_text="Exact owner (empty: jobs without one)."
    )
    status = serializers.ChoiceField(
        choices=RunStatus.choices, required=False, help_text="Last run status."
    )
    q = TextParamField(help_text="Plain-text search in job id, name and owner (case-insensitive).")
    ordering = serializers.ChoiceField(
        choices=[f for name in JOB_ORDERING_FIELDS for f in (name, f"-{name}")],
        required=False,
        help_text="Field to order by; prefix with - for descending.",
    )


class RunListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RunStatus.choices, required=False)
    trigger = serializers.ChoiceField(choices=RunTrigger.choices, required=False)
    since = UtcDateTimeField(required=False, help_text="ISO 8601; runs at or after it.")
    until = UtcDateTimeField(required=False, help_text="ISO 8601; runs before it.")
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_PAGE)
    page_size = serializers.IntegerField(
        required=False, default=50, min_value=1, max_value=RUNS_PAGE_SIZE_MAX
    )


class TriggerQuerySerializer(serializers.Serializer):
    allow_concurrent = serializers.BooleanField(
        required=False, default=False, help_text="Run even if the job is running or queued."
    )


class TriggerBodySerializer(serializers.Serializer):
    allow_concurrent = StrictBooleanField(required=False, default=False)


class BatchBodySerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=BATCH_ACTIONS)
    job_ids = serializers.ListField(
        # Not trimmed: " a " is reported as an unknown job, not silently taken for "a".
        child=StrictCharField(
            min_length=1, max_length=191, trim_whitespace=False, validators=[NO_NUL]
        ),
        min_length=1,
        max_length=MAX_BATCH_SIZE,
    )
    allow_concurrent = StrictBooleanField(required=False, default=False)


class HeatmapQuerySerializer(serializers.Serializer):
    hours = serializers.IntegerField(
        required=False, default=24, min_value=1, max_value=MAX_HEATMAP_HOURS
    )
    bucket = serializers.ChoiceField(choices=["hour", "day"], required=False, default="hour")
