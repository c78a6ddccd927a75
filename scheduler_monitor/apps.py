from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulerMonitorConfig(AppConfig):
    name = "scheduler_monitor"
    verbose_name = _("Scheduler monitoring")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported for their receivers and system checks.
        from django.core.signals import request_started

        from scheduler_monitor import checks, conf, signals, sqlite  # noqa: F401
        from scheduler_monitor.scheduler_down_watch import watch_start

        conf.validate()
        # A process that serves requests watches for a dead scheduler (scheduler_down_watch).
        request_started.connect(watch_start, dispatch_uid="scheduler_monitor_down_watch")
