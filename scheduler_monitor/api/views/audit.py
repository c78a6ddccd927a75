"""``GET /api/v1/scheduler/audit``: the audit trail, newest first, page by page (read only)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission

from scheduler_monitor import audit
from scheduler_monitor.api import serializers as s
from scheduler_monitor.api.envelope import ApiError, envelope
from scheduler_monitor.api.views.base import ApiView
from scheduler_monitor.models import AuditEntry
from scheduler_monitor.runs import PageOutOfRange, job_runs_page

AUDIT_PAGE_SIZE_MAX = 500


class CanViewAudit(BasePermission):
    """Staff, or anyone with the ``view_auditentry`` permission (entries name people)."""

    message = "You need the 'view audit entry' permission (or staff status) to read the audit."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated) and (
            user.is_staff or user.has_perm("scheduler_monitor.view_auditentry")
        )


def _exact_filter(max_length: int, help_text: str) -> serializers.CharField:
    """A filter matched exactly: nothing trimmed (a control character is no blank), no NUL."""
    return serializers.CharField(
        required=False,
        max_length=max_length,
        trim_whitespace=False,
        validators=[s.NO_NUL],
        help_text=help_text,
    )


class AuditQuerySerializer(serializers.Serializer):
    job = _exact_filter(191, "A job id.")
    user = _exact_filter(150, "A username.")
    action = _exact_filter(64, "e.g. pause.")
    since = s.UtcDateTimeField(required=False, help_text="ISO 8601; entries at or after it.")
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=s.MAX_PAGE)
    page_size = serializers.IntegerField(
        required=False, default=50, min_value=1, max_value=AUDIT_PAGE_SIZE_MAX
    )


class AuditEntrySerializer(s.UtcModelSerializer):
    job_id = serializers.CharField(source="job.job_id", allow_null=True, default=None)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "username",
            "auth",
            "address",
            "action",
            "job_id",
            "target",
            "before",
            "after",
        ]


AUDIT_PAGE = inline_serializer(
    name="AuditPage",
    fields={
        "count": serializers.IntegerField(),
        "page": serializers.IntegerField(),
        "page_size": serializers.IntegerField(),
        "pages": serializers.IntegerField(),
        "entries": AuditEntrySerializer(many=True),
    },
)


class AuditListView(ApiView):
    """Every manual action: who, when, from where, on which job, before and after."""

    permission_classes = [CanViewAudit]

    @extend_schema(
        operation_id="audit_list",
        summary="The audit trail of manual actions, newest first",
        parameters=[AuditQuerySerializer],
        responses={200: s.enveloped("AuditResponse", AUDIT_PAGE), **s.errors(400, 401, 403, 404)},
    )
    def get(self, request):
        params = self.query(AuditQuerySerializer)
        entries = audit.audit_entries(
            job_id=params.get("job"),
            username=params.get("user"),
            action=params.get("action"),
            since=params.get("since"),
        )
        try:
            page = job_runs_page(runs=entries, page=params["page"], page_size=params["page_size"])
        except PageOutOfRange as exc:
            raise ApiError(str(exc), code=404, data={"field": "page"}) from exc
        return envelope(
            {
                "count": page.count,
                "page": page.page,
                "page_size": page.page_size,
                "pages": page.pages,
                "entries": AuditEntrySerializer(page.runs, many=True).data,
            }
        )
