"""Field types and limits shared by the API's serializers: UTC times, strict text and booleans."""

from datetime import UTC

from django.core.validators import RegexValidator
from django.db import models
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

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


def query_parameters(serializer_class) -> list:
    """``extend_schema(parameters=...)`` of a query serializer, its text fields without NUL."""
    return [
        serializer_class,
        *(
            OpenApiParameter(name, TEXT_PARAM_SCHEMA, description=field.help_text)
            for name, field in serializer_class().fields.items()
            if isinstance(field, TextParamField)
        ),
    ]
