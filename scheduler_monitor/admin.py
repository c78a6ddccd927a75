from django.contrib import admin

from scheduler_monitor.models import JobDefinition, JobRun, SchedulerInstance, TriggerRequest


@admin.register(JobDefinition)
class JobDefinitionAdmin(admin.ModelAdmin):
    list_display = [
        "job_id",
        "name",
        "owner",
        "category",
        "schedule",
        "paused",
        "removed",
        "success_count",
        "failure_count",
        "last_status",
        "last_run_at",
    ]
    list_filter = ["category", "last_status", "paused", "removed"]
    search_fields = ["job_id", "name", "owner"]
    readonly_fields = [
        f.name for f in JobDefinition._meta.fields if f.name not in {"paused", "description"}
    ]


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["job", "status", "trigger", "started_at", "duration_ms", "hostname"]
    list_filter = ["status", "trigger", "job__category"]
    search_fields = ["job__job_id", "job__name", "error"]
    date_hierarchy = "started_at"
    list_select_related = ["job"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SchedulerInstance)
class SchedulerInstanceAdmin(admin.ModelAdmin):
    list_display = ["hostname", "pid", "started_at", "heartbeat_at", "stopped_at"]

    def has_add_permission(self, request):
        return False


@admin.register(TriggerRequest)
class TriggerRequestAdmin(admin.ModelAdmin):
    list_display = ["job", "status", "requested_at", "requested_by", "run"]
    list_filter = ["status"]
    list_select_related = ["job", "run"]
