import functools

from django.contrib import admin, messages
from django.http import HttpResponseBadRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from scheduler_monitor import job_control, jobs
from scheduler_monitor.audit import request_actor
from scheduler_monitor.models import (
    AuditEntry,
    JobDefinition,
    JobRun,
    JobSource,
    SchedulerEvent,
    SchedulerInstance,
    TriggerRequest,
)

BADGE_COLOURS = {
    "success": ("#d7f2dd", "#135c27"),
    "failure": ("#c62828", "#fff"),
    "abandoned": ("#c62828", "#fff"),
    "timed_out": ("#c62828", "#fff"),
    "running": ("#dbe9ff", "#1b4c9c"),
}


def status_badge(status: str, label: str):
    background, colour = BADGE_COLOURS.get(status, ("#eee", "#333"))
    return format_html(
        '<span style="background:{};color:{};padding:1px 8px;border-radius:9px;'
        'font-weight:700;font-size:11px;text-transform:uppercase">{}</span>',
        background,
        colour,
        label,
    )


def _run_action(modeladmin, request, queryset, service, done_message: str) -> None:
    """Apply one job service to each selected job; report successes and refusals."""
    done = 0
    for job in queryset:
        try:
            service(job, request_actor(request))
        except (
            job_control.JobNotFound,
            job_control.JobBusy,
            job_control.TriggerLimitReached,
        ) as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message % {"count": done}, messages.SUCCESS)


def _trigger(job, actor):
    return job_control.job_trigger(job_id=job.job_id, requested_by=actor.username, actor=actor)


def _pause(job, actor):
    return job_control.job_pause(job_id=job.job_id, actor=actor)


def _resume(job, actor):
    return job_control.job_resume(job_id=job.job_id, actor=actor)


def _bad_request(request, *values) -> bool:
    """Whether the request holds a NUL character or an empty ``_to_field``.

    Django 6.0's admin fails with a KeyError on ``?_to_field=`` (an empty field name).
    """
    to_field = request.POST.get("_to_field", request.GET.get("_to_field"))
    return to_field == "" or _has_nul(request, *values)


def _has_nul(request, *values) -> bool:
    """Whether a query parameter, form value or URL part holds a NUL character.

    PostgreSQL refuses NUL in text, so a filter like ``?job_id=%00`` would end in a
    server error; no stored value can contain one, so such a request is simply bad.
    """
    params = (*request.GET.lists(), *request.POST.lists())
    texts = [*values, *(key for key, _ in params), *(v for _, vs in params for v in vs)]
    return any("\x00" in str(text) for text in texts if text is not None)


class RefusingNulAdmin(admin.ModelAdmin):
    """A ModelAdmin whose pages answer 400 to NUL characters instead of failing."""

    def changelist_view(self, request, extra_context=None):
        if _bad_request(request):
            return HttpResponseBadRequest("NUL characters and an empty _to_field are not allowed")
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if _bad_request(request, object_id):
            return HttpResponseBadRequest("NUL characters and an empty _to_field are not allowed")
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        if _bad_request(request, object_id):
            return HttpResponseBadRequest("NUL characters and an empty _to_field are not allowed")
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        if _bad_request(request, object_id):
            return HttpResponseBadRequest("NUL characters and an empty _to_field are not allowed")
        return super().history_view(request, object_id, extra_context)


@admin.register(JobDefinition)
class JobDefinitionAdmin(RefusingNulAdmin):
    list_display = [
        "job_id",
        "name",
        "owner",
        "category",
        "schedule",
        "status_badge",
        "success_rate",
        "success_count",
        "failure_count",
        "last_run_at",
        "paused",
        "removed",
    ]
    list_filter = ["category", "owner", "last_status", "paused", "removed"]
    search_fields = ["job_id", "name", "owner"]
    readonly_fields = [
        f.name for f in JobDefinition._meta.fields if f.name not in {"paused", "description"}
    ]
    actions = ["trigger_jobs", "pause_jobs", "resume_jobs"]
    # A job found in the scheduler is described by people, not by a declaration.
    discovered_editable = {"name", "owner", "category", "description", "grace_seconds"}

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.source == JobSource.DISCOVERED:
            return [f for f in self.readonly_fields if f not in self.discovered_editable]
        return self.readonly_fields

    @admin.display(description=_("last status"), ordering="last_status")
    def status_badge(self, job):
        if not job.last_status:
            return "—"
        return status_badge(job.last_status, job.get_last_status_display())

    @admin.display(description=_("success rate"))
    def success_rate(self, job):
        rate = jobs.success_rate(job.success_count, job.failure_count)
        return "—" if rate is None else f"{rate * 100:.1f}%"

    @admin.action(description=_("Trigger the selected jobs now"), permissions=["trigger"])
    def trigger_jobs(self, request, queryset):
        message = ngettext(
            "Requested a run of %(count)d job.",
            "Requested runs of %(count)d jobs.",
            queryset.count(),
        )
        _run_action(self, request, queryset, _trigger, message)

    @admin.action(description=_("Pause the selected jobs"), permissions=["change"])
    def pause_jobs(self, request, queryset):
        message = ngettext("Paused %(count)d job.", "Paused %(count)d jobs.", queryset.count())
        _run_action(self, request, queryset, _pause, message)

    @admin.action(description=_("Resume the selected jobs"), permissions=["change"])
    def resume_jobs(self, request, queryset):
        message = ngettext("Resumed %(count)d job.", "Resumed %(count)d jobs.", queryset.count())
        _run_action(self, request, queryset, _resume, message)

    def has_trigger_permission(self, request):
        return request.user.has_perm("scheduler_monitor.trigger_job")


@admin.register(JobRun)
class JobRunAdmin(RefusingNulAdmin):
    list_display = ["job", "status_badge", "trigger", "started_at", "duration_ms", "hostname"]
    # A date filter, not date_hierarchy: the hierarchy lists the distinct months of every
    # run on each page view (4.4 s at 1,000,000 runs on SQLite, benchmark figure 9b).
    list_filter = ["status", "trigger", ("started_at", admin.DateFieldListFilter), "job__category"]
    search_fields = ["job__job_id", "job__name", "error"]
    list_select_related = ["job"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, run):
        return status_badge(run.status, run.get_status_display())


@admin.register(SchedulerInstance)
class SchedulerInstanceAdmin(RefusingNulAdmin):
    list_display = ["hostname", "pid", "started_at", "heartbeat_at", "stopped_at"]

    def has_add_permission(self, request):
        return False


@admin.register(TriggerRequest)
class TriggerRequestAdmin(RefusingNulAdmin):
    list_display = ["job", "status", "requested_at", "requested_by", "run"]
    list_filter = ["status"]
    list_select_related = ["job", "run"]


def with_dashboard_link(get_app_list):
    """Put the dashboard first in this app's entry of the admin index and nav sidebar.

    Done on the app list, not by overriding ``admin/index.html``: that template loses to
    ``django.contrib.admin``'s own whenever the app comes after it in INSTALLED_APPS.
    """

    @functools.wraps(get_app_list)
    def app_list(request, app_label=None):
        apps = get_app_list(request, app_label)
        if not request.user.is_staff:
            return apps
        for app in apps:
            if app["app_label"] == "scheduler_monitor":
                app["models"].insert(
                    0,
                    {
                        "name": _("Job health dashboard"),
                        "object_name": "Dashboard",
                        "perms": {"view": True},
                        "admin_url": reverse("scheduler_monitor_dashboard"),
                        "add_url": None,
                        "view_only": True,
                    },
                )
        return apps

    return app_list


admin.site.get_app_list = with_dashboard_link(admin.site.get_app_list)


@admin.register(SchedulerEvent)
class SchedulerEventAdmin(RefusingNulAdmin):
    """Outages, takeovers and stops the scheduler recorded; read-only."""

    list_display = ["kind", "started_at", "ended_at", "missed_runs", "hostname", "pid", "message"]
    list_filter = ["kind"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: entries are added by the actions themselves and never edited or deleted."""

    list_display = ["at", "username", "auth", "address", "action", "job", "target"]
    list_filter = ["action", "auth", ("at", admin.DateFieldListFilter)]
    search_fields = ["username", "job__job_id", "target", "address"]
    list_select_related = ["job"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Incidents, channels, the outbox, silences and windows register their own pages.
from scheduler_monitor.admin import incidents  # noqa: E402, F401
