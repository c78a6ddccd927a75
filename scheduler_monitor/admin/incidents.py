"""Admin pages of incidents, notification channels, the outbox, silences and windows."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from scheduler_monitor import incidents, silences
from scheduler_monitor.admin import RefusingNulAdmin
from scheduler_monitor.audit import audit_record, request_actor
from scheduler_monitor.models import (
    DeliveryAttempt,
    Incident,
    IncidentEvent,
    MaintenanceWindow,
    NotificationChannel,
    OutboxMessage,
    Silence,
)
from scheduler_monitor.notification_channels import channel_test_send


class HistoryInline(admin.TabularInline):
    """A record's history shown under it: never added, changed or deleted by hand."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class IncidentEventInline(HistoryInline):
    model = IncidentEvent
    fields = ["at", "kind", "actor", "address", "notified", "details"]


@admin.register(Incident)
class IncidentAdmin(RefusingNulAdmin):
    list_display = [
        "id",
        "severity",
        "rule",
        "job",
        "state",
        "opened_at",
        "acknowledged_by",
        "resolved_at",
        "silenced",
    ]
    list_filter = ["state", "severity", "rule", "silenced"]
    search_fields = ["key", "job__job_id", "job__name", "message"]
    list_select_related = ["job"]
    readonly_fields = [f.name for f in Incident._meta.fields]
    inlines = [IncidentEventInline]
    actions = ["acknowledge", "resolve"]

    def has_add_permission(self, request):
        return False

    def has_manage_permission(self, request):
        return request.user.has_perm("scheduler_monitor.manage_incident")

    @admin.action(description=_("Acknowledge the selected incidents"), permissions=["manage"])
    def acknowledge(self, request, queryset):
        done = 0
        for incident in queryset:
            try:
                incidents.incident_acknowledge(incident=incident, actor=request_actor(request))
                done += 1
            except incidents.IncidentNotOpen as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if done:
            self.message_user(request, _("Acknowledged %d incident(s).") % done, messages.SUCCESS)

    @admin.action(description=_("Resolve the selected incidents"), permissions=["manage"])
    def resolve(self, request, queryset):
        done = 0
        for incident in queryset:
            try:
                incidents.incident_resolve(incident=incident, actor=request_actor(request))
                done += 1
            except incidents.IncidentNotOpen as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if done:
            self.message_user(request, _("Resolved %d incident(s).") % done, messages.SUCCESS)


@admin.register(NotificationChannel)
class NotificationChannelAdmin(RefusingNulAdmin):
    list_display = [
        "name",
        "kind",
        "target",
        "language",
        "enabled",
        "from_settings",
        "delivered_count",
        "failed_count",
        "last_sent_at",
        "error",
    ]
    list_filter = ["kind", "enabled", "from_settings"]
    readonly_fields = [
        "from_settings",
        "delivered_count",
        "failed_count",
        "last_sent_at",
        "last_error",
        "last_error_at",
    ]
    actions = ["send_test"]

    @admin.display(description=_("last error"))
    def error(self, channel):
        if not channel.last_error:
            return "—"
        return format_html(
            '<span style="color:#c62828" title="{}">{}</span>',
            channel.last_error,
            channel.last_error[:80],
        )

    @admin.action(description=_("Send a test message"), permissions=["change"])
    def send_test(self, request, queryset):
        for channel in queryset:
            error = channel_test_send(channel)
            if error is None:
                self.message_user(request, _("%s: delivered.") % channel.name, messages.SUCCESS)
            else:
                self.message_user(request, f"{channel.name}: {error}", messages.ERROR)


class DeliveryAttemptInline(HistoryInline):
    model = DeliveryAttempt
    fields = ["number", "started_at", "duration_ms", "ok", "status_code", "error"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(RefusingNulAdmin):
    list_display = ["id", "channel", "incident", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state", "channel"]
    list_select_related = ["channel", "incident"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SilenceForm(forms.ModelForm):
    class Meta:
        model = Silence
        fields = ["scope", "value", "starts_at", "ends_at", "reason"]

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            raise ValidationError({"ends_at": _("The silence must end after it starts.")})
        if data.get("scope") != "all" and not data.get("value"):
            raise ValidationError({"value": _("Name the job, category or rule to silence.")})
        return data


class WhoCreatedAdmin(RefusingNulAdmin):
    """Record who created a silence or window, and from which address; audit every change."""

    audit_noun = ""  # "silence" or "window"

    def save_model(self, request, obj, form, change):
        actor = request_actor(request)
        if not change:
            obj.created_by = actor.username
            obj.created_from = actor.address or None
        before = self._snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=actor,
                action=f"{self.audit_noun}_{'change' if change else 'create'}",
                before=before,
                after=self._snapshot(obj),
                target=f"{self.audit_noun} {obj.pk}",
            )

    def delete_model(self, request, obj):
        pk = obj.pk
        with transaction.atomic():
            super().delete_model(request, obj)
            self._audit_delete(request, obj, pk)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                pk = obj.pk
                obj.delete()
                self._audit_delete(request, obj, pk)

    def _audit_delete(self, request, obj, pk) -> None:
        audit_record(
            actor=request_actor(request),
            action=f"{self.audit_noun}_delete",
            before=self._snapshot(obj),
            target=f"{self.audit_noun} {pk}",
        )

    @staticmethod
    def _snapshot(obj) -> dict:
        return {
            field.name: field.value_to_string(obj)
            for field in obj._meta.fields
            if field.name not in ("id", "created_at", "created_by", "created_from")
        }


@admin.register(Silence)
class SilenceAdmin(WhoCreatedAdmin):
    audit_noun = "silence"
    form = SilenceForm
    list_display = ["scope", "value", "starts_at", "ends_at", "reason", "created_by"]
    list_filter = ["scope"]
    readonly_fields = ["created_by", "created_from", "created_at"]


class MaintenanceWindowForm(forms.ModelForm):
    class Meta:
        model = MaintenanceWindow
        fields = [
            "name",
            "scope",
            "value",
            "cron",
            "weekdays",
            "start_time",
            "duration_minutes",
            "timezone",
            "enabled",
            "reason",
        ]

    def clean(self):
        data = super().clean()
        window = MaintenanceWindow(**{k: v for k, v in data.items() if k in self.Meta.fields})
        silences.window_validate(window)
        return data


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(WhoCreatedAdmin):
    audit_noun = "window"
    form = MaintenanceWindowForm
    list_display = [
        "name",
        "scope",
        "value",
        "cron",
        "weekdays",
        "start_time",
        "duration_minutes",
        "timezone",
        "enabled",
    ]
    list_filter = ["enabled", "scope"]
    readonly_fields = ["created_by", "created_from", "created_at"]
