"""Output serializers of the scheduler's status, alerts, the heatmap and the summary cards."""

from rest_framework import serializers

from scheduler_monitor.api.serializers.fields import UtcDateTimeField


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
