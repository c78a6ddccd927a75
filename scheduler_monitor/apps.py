from django.apps import AppConfig


class SchedulerMonitorConfig(AppConfig):
    name = "scheduler_monitor"
    verbose_name = "Scheduler monitor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported for their receivers and system checks.
        from scheduler_monitor import checks, conf, signals, sqlite  # noqa: F401

        conf.validate()
