"""The audit trail: one row per manual action, never changed once written."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAuth(models.TextChoices):
    SESSION = "session", _("session")
    TOKEN = "token", _("API token")
    SYSTEM = "system", _("system")


class AuditEntry(models.Model):
    """Who did what to which job, when, from where, and the values before and after."""

    at = models.DateTimeField(_("when"), default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    # Kept beside the link: the entry still names the user after the account is deleted.
    username = models.CharField(_("username"), max_length=150, blank=True)
    auth = models.CharField(_("via"), max_length=16, choices=AuditAuth.choices)
    address = models.CharField(_("address"), max_length=64, blank=True)
    action = models.CharField(_("action"), max_length=64)
    job = models.ForeignKey(
        "scheduler_monitor.JobDefinition",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        verbose_name=_("job"),
    )
    target = models.CharField(_("target"), max_length=200, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["at"], name="sm_audit_at"),
            models.Index(fields=["job", "at"], name="sm_audit_job_at"),
            models.Index(fields=["action", "at"], name="sm_audit_action_at"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"
