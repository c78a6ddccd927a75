"""Receivers that keep per-process state in step with settings changes (mostly in tests)."""

from django.core.signals import setting_changed
from django.dispatch import receiver


@receiver(setting_changed)
def revalidate_settings(*, setting, **kwargs):
    if setting != "SCHEDULER_MONITOR":
        return
    from scheduler_monitor import conf
    from scheduler_monitor.window import reset_window

    conf.validate()
    reset_window()
