"""Input (query and body) and output serializers of the API; outputs also feed the schema."""

from datetime import UTC

from django.core.validators import RegexValidator
from django.db import models
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from scheduler_monitor.models import JobDefinition, JobRun, RunStatus, RunTrigger, TriggerRequest
from scheduler_monitor.selectors import JOB_ORDERING_FIELDS, RUNS_PAGE_SIZE_MAX
from scheduler_monitor.services import BATCH_ACTIONS

MAX_PAGE = 1_000_000
MAX_HEATMAP_HOURS = 24 * 30
MAX_BATCH_SIZE = 500


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC with ``Z``; a naive input is read as UTC."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)


class BlankAsNullCharField(serializers.CharField):
    """A stored empty string (e.g. a job that never ran has no last status) shown as null."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None


class UtcModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UtcDateTimeField,
    }


# --- inputs ----------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string that must be sent as a JSON string (DRF would turn 0 into "0")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false, nothing else (DRF would take "yes", 1, "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


# DRF refuses NUL characters anyway (PostgreSQL cannot store them); the pattern puts it in
# the schema, so clients know.
NO_NUL = RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")


class TextParamField(serializers.CharField):
    """A text query parameter: empty allowed, at most 200 characters, no NUL."""

    def __init__(self, **kwargs):
        kwargs.update(required=False, allow_blank=True, max_length=200)
        super().__init__(**kwargs)


# drf-spectacular describes an allow_blank field with a pattern as a oneOf whose branches
# overlap on ""; views name these parameters with this schema instead.
TEXT_PARAM_SCHEMA = {"type": "string", "maxLength": 200, "pattern": NO_NUL.regex.pattern}


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


# --- outputs ---------------------------------------------------------------------------------


class StatsSerializer(serializers.Serializer):
    avg_duration_ms = serializers.FloatField(allow_null=True)
    p50_duration_ms = serializers.FloatField(allow_null=True)
    p95_duration_ms = serializers.FloatField(allow_null=True)
    p99_duration_ms = serializers.FloatField(allow_null=True)
    min_duration_ms = serializers.FloatField(allow_null=True)
    max_duration_ms = serializers.FloatField(allow_null=True)
    sample_count = serializers.IntegerField()


class RunSerializer(UtcModelSerializer):
    job_id = serializers.CharField(source="job.job_id")
    measurements = serializers.DictField(child=serializers.FloatField())

    class Meta:
        model = JobRun
        fields = [
            "id",
            "job_id",
            "status",
            "trigger",
            "scheduled_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "error",
            "measurements",
            "hostname",
            "pid",
            "recorded_at",
        ]


class StuckRunSerializer(serializers.Serializer):
    """A run still ``running`` past its job's maximum runtime (``StuckRun.as_dict``)."""

    run_id = serializers.IntegerField()
    job_id = serializers.CharField()
    job_name = serializers.CharField()
    started_at = UtcDateTimeField()
    hostname = serializers.CharField()
    pid = serializers.IntegerField(allow_null=True)
    running_seconds = serializers.FloatField()
    max_runtime_seconds = serializers.FloatField()
    derived_from = serializers.ChoiceField(choices=["declared", "p95", "default"])

    def to_representation(self, instance):
        return instance.as_dict()


class StartDelaySerializer(serializers.Serializer):
    """How late scheduled runs started against their scheduled time, in ms (not duration)."""

    hours = serializers.IntegerField(help_text="Runs started within the last hours.")
    avg_ms = serializers.FloatField(source="stats.avg_duration_ms", allow_null=True)
    p50_ms = serializers.FloatField(source="stats.p50_duration_ms", allow_null=True)
    p95_ms = serializers.FloatField(source="stats.p95_duration_ms", allow_null=True)
    p99_ms = serializers.FloatField(source="stats.p99_duration_ms", allow_null=True)
    min_ms = serializers.FloatField(source="stats.min_duration_ms", allow_null=True)
    max_ms = serializers.FloatField(source="stats.max_duration_ms", allow_null=True)
    sample_count = serializers.IntegerField(source="stats.sample_count")


class JobSerializer(UtcModelSerializer):
    callable = serializers.CharField(source="callable_path")
    next_run_time = UtcDateTimeField(allow_null=True, help_text="From the job store.")
    in_job_store = serializers.BooleanField()
    last_status = BlankAsNullCharField()
    total_runs = serializers.IntegerField()
    grace_seconds = serializers.FloatField(
        source="schedule_health.grace_seconds",
        help_text="Overdue after this long past due (effective).",
    )
    late_seconds = serializers.FloatField(
        source="schedule_health.late_seconds",
        allow_null=True,
        help_text="How long past its next run time (null when not yet due).",
    )
    overdue = serializers.BooleanField(
        source="schedule_health.overdue", help_text="Past due by more than its grace."
    )
    stuck_runs = StuckRunSerializer(source="stuck", many=True)

    class Meta:
        model = JobDefinition
        fields = [
            "job_id",
            "name",
            "owner",
            "category",
            "description",
            "callable",
            "schedule",
            "paused",
            "next_run_time",
            "in_job_store",
            "last_status",
            "last_run_at",
            "last_duration_ms",
            "success_count",
            "failure_count",
            "total_runs",
            "expected_interval_seconds",
            "grace_seconds",
            "late_seconds",
            "overdue",
            "stuck_runs",
        ]


class JobDetailSerializer(JobSerializer):
    last_error = serializers.CharField()
    statistics = StatsSerializer(help_text="Duration over the rolling window.")
    start_delay = StartDelaySerializer()
    recent_runs = RunSerializer(many=True)

    class Meta(JobSerializer.Meta):
        fields = [
            *JobSerializer.Meta.fields,
            "removed",
            "missed_count",
            "skipped_count",
            "last_error",
            "max_runtime_seconds",
            "statistics",
            "start_delay",
            "recent_runs",
        ]


class TriggerRequestSerializer(UtcModelSerializer):
    job_id = serializers.CharField(source="job.job_id")
    run = RunSerializer(allow_null=True)

    class Meta:
        model = TriggerRequest
        fields = [
            "id",
            "job_id",
            "status",
            "requested_at",
            "requested_by",
            "allow_concurrent",
            "picked_at",
            "finished_at",
            "error",
            "run",
        ]


class InstanceSerializer(serializers.Serializer):
    hostname = serializers.CharField()
    pid = serializers.IntegerField()
    started_at = UtcDateTimeField()
    heartbeat_at = UtcDateTimeField()
    stopped_at = UtcDateTimeField(allow_null=True)


class InstanceRoleSerializer(serializers.Serializer):
    """A live scheduler instance (``InstanceRole.as_dict``)."""

    id = serializers.IntegerField()
    hostname = serializers.CharField()
    pid = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["active", "standby"])
    started_at = UtcDateTimeField()
    heartbeat_at = UtcDateTimeField()
    heartbeat_age_seconds = serializers.FloatField()


class SchedulerEventSerializer(serializers.Serializer):
    """A span of time the scheduler could not do its work (``event_as_dict``)."""

    kind = serializers.ChoiceField(
        choices=["database_unreachable", "no_scheduler", "abandoned_at_stop"]
    )
    started_at = serializers.CharField(help_text="UTC, ISO 8601")
    ended_at = serializers.CharField(help_text="UTC, ISO 8601")
    duration_seconds = serializers.FloatField()
    missed_runs = serializers.IntegerField(help_text="Scheduled times that passed unrun.")
    hostname = serializers.CharField()
    pid = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class StatusSerializer(serializers.Serializer):
    running = serializers.BooleanField(
        help_text="A scheduler runs jobs: the lease holder is alive (the latest heartbeat "
        "before any scheduler took the lease)."
    )
    state = serializers.ChoiceField(choices=["running", "stopped"])
    heartbeat_age_seconds = serializers.FloatField(allow_null=True)
    registered_jobs = serializers.IntegerField()
    paused_jobs = serializers.IntegerField()
    instance = InstanceSerializer(allow_null=True, help_text="The latest heartbeat's instance.")
    active = InstanceRoleSerializer(allow_null=True, help_text="The instance running jobs.")
    standby = InstanceRoleSerializer(many=True, help_text="Live instances waiting to take over.")
    lease_expires_at = UtcDateTimeField(allow_null=True)
    lease_acquired_at = UtcDateTimeField(allow_null=True)
    recent_events = SchedulerEventSerializer(
        many=True,
        help_text="The latest scheduler events, newest first: database outages, time no "
        "scheduler ran jobs, runs abandoned at stop.",
    )


class AlertSerializer(serializers.Serializer):
    rule = serializers.CharField()
    kind = serializers.CharField()
    severity = serializers.ChoiceField(choices=["warning", "critical"])
    message = serializers.CharField()
    job_id = serializers.CharField(allow_null=True)
    job_name = serializers.CharField(allow_null=True)
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)


class AlertsSerializer(serializers.Serializer):
    """Documentation of ``AlertsReport.as_dict``."""

    status = serializers.ChoiceField(choices=["ok", "warning", "critical"])
    evaluated_at = UtcDateTimeField()
    total = serializers.IntegerField()
    critical = serializers.IntegerField()
    warning = serializers.IntegerField()
    alerts = AlertSerializer(many=True)


class MetricSerializer(serializers.Serializer):
    """The brief's metrics item (documentation of ``JobMetrics.as_brief_dict``)."""

    job_id = serializers.CharField()
    job_name = serializers.CharField()
    owner = serializers.CharField()
    category = serializers.CharField()
    success_count = serializers.IntegerField()
    failure_count = serializers.IntegerField()
    total_runs = serializers.IntegerField()
    avg_duration_ms = serializers.FloatField(allow_null=True)
    p50_duration_ms = serializers.FloatField(allow_null=True)
    p95_duration_ms = serializers.FloatField(allow_null=True)
    p99_duration_ms = serializers.FloatField(allow_null=True)
    min_duration_ms = serializers.FloatField(allow_null=True)
    max_duration_ms = serializers.FloatField(allow_null=True)
    sample_count = serializers.IntegerField()
    last_status = serializers.CharField(allow_null=True)
    last_timestamp = UtcDateTimeField(allow_null=True)
    last_duration_ms = serializers.FloatField(allow_null=True)


class ServiceJobSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    paused = serializers.BooleanField()
    in_job_store = serializers.BooleanField()


class ServiceSerializer(serializers.Serializer):
    callable = serializers.CharField()
    job_ids = serializers.ListField(child=serializers.CharField())
    owner = serializers.CharField()
    category = serializers.CharField()
    in_job_store = serializers.BooleanField()
    jobs = ServiceJobSerializer(many=True)


class HeatmapJobSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    job_name = serializers.CharField()
    failures = serializers.IntegerField()


class HeatmapRowSerializer(serializers.Serializer):
    category = serializers.CharField()
    counts = serializers.ListField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    jobs = HeatmapJobSerializer(many=True)


class HeatmapSerializer(serializers.Serializer):
    hours = serializers.IntegerField()
    bucket = serializers.ChoiceField(choices=["hour", "day"])
    buckets = serializers.ListField(child=UtcDateTimeField())
    categories = HeatmapRowSerializer(many=True)
    max_count = serializers.IntegerField()
    alarm_threshold = serializers.IntegerField()


class SummarySerializer(serializers.Serializer):
    total_jobs = serializers.IntegerField()
    total_runs = serializers.IntegerField()
    success_count = serializers.IntegerField()
    failure_count = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    avg_duration_ms = serializers.FloatField(allow_null=True)
    failing_jobs = serializers.IntegerField()
    runs_last_24h = serializers.IntegerField()
    failures_last_24h = serializers.IntegerField()


class BatchResultSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    ok = serializers.BooleanField()
    status = serializers.IntegerField()
    message = serializers.CharField()
    trigger_id = serializers.IntegerField(allow_null=True)


# --- envelopes (schema only) -----------------------------------------------------------------


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
