"""The job page's control parts: schedule override form, reset, recent changes (audit)."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from scheduler_monitor import audit, job_control, schedule_overrides, schedules
from scheduler_monitor.audit import request_actor
from scheduler_monitor.job_params import form_fields

CHANGE_PERMISSION = "scheduler_monitor.change_jobdefinition"
RECENT_CHANGES = 10
# Form field -> how its text becomes a value (empty: leave that override as it is).
FORM_FIELDS = {
    "cron": str,
    "seconds": float,
    "grace_seconds": float,
    "max_runtime_seconds": float,
    "timeout_seconds": float,
    "retries": int,
    "retry_backoff_seconds": float,
}


def job_control_context(request: HttpRequest, job) -> dict:
    """What the job page shows about overrides, arguments and recent manual actions."""
    return {
        "overrides": schedules.overrides_of(job),
        "declared_schedule": schedules.declared_of(job).get("schedule") or "",
        "next_fire_times": schedule_overrides.next_fire_times(job),
        "recent_changes": list(audit.audit_entries(job_id=job.job_id)[:RECENT_CHANGES]),
        "job_params": form_fields(job),
        "can_change_schedule": request.user.has_perm(CHANGE_PERMISSION),
    }


def form_changes(form) -> dict:
    """The override form's non-empty fields as typed values; a bad number names its field."""
    changes = {}
    for name, kind in FORM_FIELDS.items():
        raw = (form.get(name) or "").strip()
        if not raw:
            continue
        try:
            changes[name] = kind(raw)
        except ValueError:
            raise schedule_overrides.ScheduleInvalid(name, _("must be a number")) from None
    return changes


def _change(request: HttpRequest, job_id: str, perform, done: str) -> HttpResponse:
    if not request.user.has_perm(CHANGE_PERMISSION):
        return HttpResponse(_("You may not change job schedules."), status=403)
    try:
        perform()
    except job_control.JobNotFound as exc:
        raise Http404(str(exc)) from exc
    except schedule_overrides.ScheduleInvalid as exc:
        messages.error(request, _("Not changed: %(error)s") % {"error": exc})
    else:
        messages.success(request, done % {"job": job_id})
    return redirect(reverse("scheduler_monitor_job", args=[job_id]))


@staff_member_required
@require_POST
def job_schedule_change(request: HttpRequest, job_id: str) -> HttpResponse:
    """Override the schedule from the job page's form (POST with CSRF)."""

    def perform():
        schedule_overrides.job_schedule_update(
            job_id=job_id, changes=form_changes(request.POST), actor=request_actor(request)
        )

    return _change(request, job_id, perform, _("Schedule of %(job)s changed."))


@staff_member_required
@require_POST
def job_schedule_reset(request: HttpRequest, job_id: str) -> HttpResponse:
    """Back to the declared schedule, one click (POST with CSRF)."""

    def perform():
        schedule_overrides.job_schedule_reset(job_id=job_id, actor=request_actor(request))

    return _change(request, job_id, perform, _("%(job)s is back on its declared schedule."))


urlpatterns = [
    path(
        "scheduler-monitoring/jobs/<str:job_id>/schedule",
        job_schedule_change,
        name="scheduler_monitor_job_schedule",
    ),
    path(
        "scheduler-monitoring/jobs/<str:job_id>/schedule/reset",
        job_schedule_reset,
        name="scheduler_monitor_job_schedule_reset",
    ),
]
