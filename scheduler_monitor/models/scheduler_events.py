"""What the scheduler itself went through: outages, failovers, and records it had to degrade."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SchedulerEventKind(models.TextChoices):
    DATABASE_UNREACHABLE = "database_unreachable", _("database unreachable")
    NO_SCHEDULER = "no_scheduler", _("no scheduler ran jobs")
    ABANDONED_AT_STOP = "abandoned_at_stop", _("runs abandoned at stop")


class SchedulerEvent(models.Model):
    """A span of time in which the scheduler could not do its work, recorded afterwards."""

    kind = models.CharField(_("kind"), max_length=32, choices=SchedulerEventKind.choices)
    started_at = models.DateTimeField(_("from"))
    ended_at = models.DateTimeField(_("to"))
    hostname = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.IntegerField(_("pid"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    missed_runs = models.IntegerField(
        _("missed fire times"), default=0, help_text=_("Scheduled times that passed unrun.")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("scheduler event")
        verbose_name_plural = _("scheduler events")
        indexes = [models.Index(fields=["started_at"], name="sm_event_started")]

    def __str__(self):
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M:%S} - {self.ended_at:%H:%M:%S}"


class RecordDegradation(models.Model):
    """How many run records were stored other than as recorded, per reason (monotonic)."""

    reason = models.CharField(_("reason"), max_length=32, unique=True)
    count = models.BigIntegerField(_("records"), default=0)
    last_at = models.DateTimeField(_("last"), null=True, blank=True)

    class Meta:
        ordering = ["reason"]
        verbose_name = _("degraded record count")
        verbose_name_plural = _("degraded record counts")

    def __str__(self):
        return f"{self.reason}: {self.count}"
