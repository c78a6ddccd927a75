from django.apps import AppConfig


class SchedulerMonitorConfig(AppConfig):
    name = "scheduler_monitor"
    verbose_name = "Scheduler monitor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from scheduler_monitor import conf, signals  # noqa: F401  (connects receivers)

        conf.validate()
