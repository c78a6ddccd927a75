"""The dashboard's incident banner actions: acknowledge, resolve, silence (POST with CSRF).

Each action is recorded with the user and the client address (the incident's timeline or
the silence's row, and the audit trail), then the user is sent back to the page they came from.
"""

from datetime import timedelta

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from scheduler_monitor import incidents, silences
from scheduler_monitor.audit import Actor, request_actor
from scheduler_monitor.models import Incident, SilenceScope

SILENCE_CHOICES = (60, 240, 1440)  # minutes offered by the banner's silence buttons


def can_manage_incidents(user) -> bool:
    """Acknowledge, resolve and silence: 'change job' or 'manage incident'."""
    return user.has_perm("scheduler_monitor.change_jobdefinition") or user.has_perm(
        "scheduler_monitor.manage_incident"
    )


def incident_rows(user) -> dict:
    """The banner's context: open incidents, active silences, the user's right to act."""
    return {
        "incidents": list(incidents.open_incidents()),
        "active_silences": list(silences.silence_list(active_now=True)),
        "can_manage_incidents": can_manage_incidents(user),
        "silence_choices": SILENCE_CHOICES,
    }


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = reverse("scheduler_monitor_dashboard")
    return redirect(target)


@staff_member_required
@require_POST
def incident_action(request: HttpRequest, incident_id: int, action: str) -> HttpResponse:
    """Acknowledge, resolve or silence (the incident's job, or its rule) from the banner."""
    if action not in ("ack", "resolve", "silence"):
        raise Http404(_("Unknown action %(action)s") % {"action": action})
    if not can_manage_incidents(request.user):
        return HttpResponse(_("You may not act on incidents."), status=403)
    incident = Incident.objects.select_related("job").filter(pk=incident_id).first()
    if incident is None:
        raise Http404(_("No incident %(id)s") % {"id": incident_id})
    actor = request_actor(request)
    if action == "silence":
        return _silence(request, incident, actor)
    perform = incidents.incident_acknowledge if action == "ack" else incidents.incident_resolve
    try:
        perform(incident=incident, actor=actor)
    except incidents.IncidentNotOpen as exc:
        messages.warning(request, str(exc))
    else:
        done = (
            _("Incident %(id)s acknowledged.")
            if action == "ack"
            else _("Incident %(id)s resolved.")
        )
        messages.success(request, done % {"id": incident.pk})
    return _back(request)


def _silence(request, incident: Incident, actor: Actor) -> HttpResponse:
    raw = request.POST.get("minutes", "")
    if not raw.isdigit() or int(raw) not in SILENCE_CHOICES:
        return HttpResponse(_("Choose a silence length offered by the page."), status=400)
    if incident.job is not None:
        scope, value = SilenceScope.JOB, incident.job.job_id
    else:
        scope, value = SilenceScope.RULE, incident.rule
    now = timezone.now()
    silences.silence_create(
        scope=scope,
        value=value,
        starts_at=now,
        ends_at=now + timedelta(minutes=int(raw)),
        reason=_("Silenced from the dashboard (incident %(id)s)") % {"id": incident.pk},
        actor=actor,
    )
    messages.success(
        request, _("%(what)s silenced for %(minutes)s min.") % {"what": value, "minutes": raw}
    )
    return _back(request)
