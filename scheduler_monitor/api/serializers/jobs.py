"""Output serializers of jobs, their runs, statistics, trigger requests, services and batches."""

from rest_framework import serializers

from scheduler_monitor.api.serializers.fields import (
    BlankAsNullCharField,
    UtcDateTimeField,
    UtcModelSerializer,
)
from scheduler_monitor.models import JobDefinition, JobRun, TriggerRequest


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


class BatchResultSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    ok = serializers.BooleanField()
    status = serializers.IntegerField()
    message = serializers.CharField()
    trigger_id = serializers.IntegerField(allow_null=True)
