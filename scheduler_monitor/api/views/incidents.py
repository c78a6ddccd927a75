"""Incidents and silences in the JSON API: list, detail, acknowledge, resolve, silence.

Reading needs the 'view job' permission (or staff), like every other read; acknowledging,
resolving and silencing need 'change job' or 'manage incident'. Each of these writes
records who did it and from which address (the incident's timeline, the silence's row).
"""

from django.db.models import Prefetch
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission

from scheduler_monitor import incidents, silences
from scheduler_monitor.api import serializers as s
from scheduler_monitor.api.auth import CHANGE_PERMISSION
from scheduler_monitor.api.envelope import ApiError, envelope
from scheduler_monitor.api.serializers.incidents import (
    MAX_LIMIT,
    SILENCE_REQUEST,
    IncidentDetailSerializer,
    IncidentQuerySerializer,
    IncidentSerializer,
    SilenceInputSerializer,
    SilenceQuerySerializer,
    SilenceSerializer,
)
from scheduler_monitor.api.views.base import ApiView
from scheduler_monitor.audit import request_actor
from scheduler_monitor.models import Incident, IncidentEvent

MANAGE_PERMISSION = "scheduler_monitor.manage_incident"


class CanManageIncidents(BasePermission):
    message = "You need the 'change job' or 'manage incident' permission."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated) and (
            user.has_perm(CHANGE_PERMISSION) or user.has_perm(MANAGE_PERMISSION)
        )


INCIDENT_ID = OpenApiParameter("incident_id", int, OpenApiParameter.PATH)
INCIDENT_RESPONSES = {
    200: s.enveloped("IncidentResponse", IncidentDetailSerializer()),
    **s.errors(401, 403, 404),
    409: OpenApiResponse(s.ERROR, description="The incident is resolved already."),
}


def get_incident(incident_id: int) -> Incident:
    events = Prefetch("events", queryset=IncidentEvent.objects.order_by("at", "id"))
    incident = (
        Incident.objects.select_related("job").prefetch_related(events).filter(pk=incident_id)
        if incident_id < 2**63
        else Incident.objects.none()
    ).first()
    if incident is None:
        raise ApiError(
            f"incident {incident_id} does not exist", code=404, data={"field": "incident_id"}
        )
    return incident


class IncidentListView(ApiView):
    """Incidents, newest first: open or resolved, of a job or rule, opened since a time."""

    @extend_schema(
        operation_id="incidents",
        summary="Incidents, newest first (filters: open, job, rule, since)",
        parameters=s.query_parameters(IncidentQuerySerializer),
        responses={
            200: s.enveloped(
                "IncidentListResponse", s.listing("IncidentList", "incidents", IncidentSerializer())
            ),
            **s.errors(400, 401, 403),
        },
    )
    def get(self, request):
        query = self.query(IncidentQuerySerializer)
        found = incidents.incident_list(
            open_only=query.get("open"),
            job_id=query.get("job") or None,
            rule=query.get("rule") or None,
            since=query.get("since"),
        )
        rows = list(found[: query["limit"]])
        return envelope(
            {"total": found.count(), "incidents": IncidentSerializer(rows, many=True).data}
        )


class IncidentDetailView(ApiView):
    """One incident with its timeline."""

    @extend_schema(
        operation_id="incident_detail",
        summary="One incident with its timeline",
        parameters=[INCIDENT_ID],
        responses=INCIDENT_RESPONSES,
    )
    def get(self, request, incident_id):
        return envelope(IncidentDetailSerializer(get_incident(incident_id)).data)


class IncidentAcknowledgeView(ApiView):
    """Acknowledge an open incident: no more reminders; recorded with who and from where."""

    permission_classes = [CanManageIncidents]
    perform = staticmethod(incidents.incident_acknowledge)

    @extend_schema(
        operation_id="incident_acknowledge",
        summary="Acknowledge an open incident (stops its reminders)",
        parameters=[INCIDENT_ID],
        request=None,
        responses=INCIDENT_RESPONSES,
    )
    def post(self, request, incident_id):
        try:
            self.perform(incident=get_incident(incident_id), actor=request_actor(request))
        except incidents.IncidentNotOpen as exc:
            raise ApiError(
                str(exc), code=status.HTTP_409_CONFLICT, data={"state": "resolved"}
            ) from exc
        return envelope(IncidentDetailSerializer(get_incident(incident_id)).data)


class IncidentResolveView(IncidentAcknowledgeView):
    """Resolve an open incident by hand (a "resolved" message goes out)."""

    perform = staticmethod(incidents.incident_resolve)

    @extend_schema(
        operation_id="incident_resolve",
        summary="Resolve an open incident by hand",
        parameters=[INCIDENT_ID],
        request=None,
        responses=INCIDENT_RESPONSES,
    )
    def post(self, request, incident_id):
        return super().post(request, incident_id)


class RequiredBodySchema(AutoSchema):
    """A raw request schema is optional to drf-spectacular; this body is required."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None:
            body["required"] = True
        return body


class SilenceListView(ApiView):
    """Silences: GET lists current and coming ones (``all=true``: past ones too); POST adds."""

    schema = RequiredBodySchema()

    def get_permissions(self):
        if self.request.method == "POST":
            return [CanManageIncidents()]
        return super().get_permissions()

    @extend_schema(
        operation_id="silences",
        summary="Silences now active or still to come (all=true: every one)",
        parameters=[SilenceQuerySerializer],
        responses={
            200: s.enveloped(
                "SilenceListResponse", s.listing("SilenceList", "silences", SilenceSerializer())
            ),
            **s.errors(400, 401, 403),
        },
    )
    def get(self, request):
        query = self.query(SilenceQuerySerializer)
        rows = list(silences.silence_list(include_past=query["all"])[:MAX_LIMIT])
        return envelope({"total": len(rows), "silences": SilenceSerializer(rows, many=True).data})

    @extend_schema(
        operation_id="silence_create",
        summary="Silence notifications of a job, category, rule or everything for a while",
        request=SILENCE_REQUEST,
        responses={
            201: s.enveloped("SilenceResponse", SilenceSerializer()),
            **s.errors(400, 401, 403),
        },
    )
    def post(self, request):
        data = self.body(SilenceInputSerializer)
        silence = silences.silence_create(
            scope=data["scope"],
            value=data["value"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
            actor=request_actor(request),
        )
        return envelope(SilenceSerializer(silence).data, code=status.HTTP_201_CREATED)
