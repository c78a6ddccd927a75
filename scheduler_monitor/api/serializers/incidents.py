"""Serializers of incidents and silences (and the silence body's schema)."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from scheduler_monitor.api.serializers import fields as s
from scheduler_monitor.models import Incident, IncidentEvent, Silence, SilenceScope

MAX_LIMIT = 500
MAX_SILENCE_MINUTES = 366 * 24 * 60


class IncidentQuerySerializer(serializers.Serializer):
    open = s.StrictBooleanField(required=False, help_text="true: open only; false: resolved.")
    job = s.TextParamField(help_text="Job id.")
    rule = s.TextParamField(help_text="Rule name.")
    since = s.UtcDateTimeField(required=False, help_text="Opened at or after (ISO 8601).")
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=MAX_LIMIT)

    def to_internal_value(self, data):
        # Query strings carry text: "true"/"false" only, nothing DRF would guess at.
        data = dict(data)
        if "open" in data:
            value = {"true": True, "false": False}.get(data["open"])
            if value is None:
                raise serializers.ValidationError({"open": ["Must be true or false."]})
            data["open"] = value
        return super().to_internal_value(data)


class IncidentEventSerializer(s.UtcModelSerializer):
    class Meta:
        model = IncidentEvent
        fields = ["kind", "at", "actor", "address", "notified", "details"]


class IncidentSerializer(s.UtcModelSerializer):
    state = serializers.CharField(help_text="open or resolved")
    job_id = serializers.CharField(source="job.job_id", allow_null=True, default=None)
    job_name = serializers.CharField(source="job.name", allow_null=True, default=None)

    class Meta:
        model = Incident
        fields = [
            "id",
            "key",
            "rule",
            "kind",
            "severity",
            "state",
            "job_id",
            "job_name",
            "message",
            "numbers",
            "last_error",
            "opened_at",
            "last_fired_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "silenced",
        ]


class IncidentDetailSerializer(IncidentSerializer):
    events = IncidentEventSerializer(many=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "events"]


class SilenceSerializer(s.UtcModelSerializer):
    class Meta:
        model = Silence
        fields = [
            "id",
            "scope",
            "value",
            "starts_at",
            "ends_at",
            "reason",
            "created_by",
            "created_from",
            "created_at",
        ]


class SilenceInputSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=SilenceScope.choices)
    value = s.StrictCharField(
        required=False,
        allow_blank=True,
        max_length=200,
        trim_whitespace=False,
        validators=[s.NO_NUL],
        default="",
    )
    starts_at = s.UtcDateTimeField(required=False, help_text="Default: now.")
    duration_minutes = serializers.IntegerField(min_value=1, max_value=MAX_SILENCE_MINUTES)
    reason = s.StrictCharField(
        required=False, allow_blank=True, max_length=2000, validators=[s.NO_NUL], default=""
    )

    def validate(self, data):
        if data["scope"] != SilenceScope.ALL and not data["value"]:
            raise serializers.ValidationError({"value": ["Name the job, category or rule."]})
        if data["scope"] == SilenceScope.ALL and data["value"]:
            raise serializers.ValidationError(
                {"value": ["A silence of everything takes no value."]}
            )
        starts = data.get("starts_at") or timezone.now()
        ends = starts + timedelta(minutes=data["duration_minutes"])
        return {**data, "starts_at": starts, "ends_at": ends}


def _silence_body(scopes: list[str], value: dict) -> dict:
    return {
        "type": "object",
        "required": ["scope", "duration_minutes"] + (["value"] if "all" not in scopes else []),
        "properties": {
            "scope": {"type": "string", "enum": scopes},
            "value": value,
            "starts_at": {"type": "string", "format": "date-time", "description": "Default: now."},
            "duration_minutes": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_SILENCE_MINUTES,
            },
            "reason": {"type": "string", "maxLength": 2000, "pattern": s.NO_NUL.regex.pattern},
        },
    }


# The schema states what the serializer checks across fields: a job, category or rule
# silence names one (a non-empty value); "all" takes none.
SILENCE_REQUEST = {
    "application/json": {
        "oneOf": [
            _silence_body(["all"], {"type": "string", "maxLength": 0}),
            _silence_body(
                ["job", "category", "rule"],
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "pattern": s.NO_NUL.regex.pattern,
                },
            ),
        ]
    }
}


class SilenceQuerySerializer(serializers.Serializer):
    all = s.StrictBooleanField(required=False, default=False)

    def to_internal_value(self, data):
        data = dict(data)
        if "all" in data:
            value = {"true": True, "false": False}.get(data["all"])
            if value is None:
                raise serializers.ValidationError({"all": ["Must be true or false."]})
            data["all"] = value
        return super().to_internal_value(data)
