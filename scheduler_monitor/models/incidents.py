"""Incidents, their timeline, notification channels, the outbox, silences, maintenance windows."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")


class IncidentState(models.TextChoices):
    OPEN = "open", _("open")
    RESOLVED = "resolved", _("resolved")


class IncidentEventKind(models.TextChoices):
    OPENED = "opened", _("opened")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESOLVED = "resolved", _("resolved")
    MANUALLY_RESOLVED = "manually_resolved", _("resolved by hand")
    REMINDER = "reminder", _("reminder")
    FLAPPING = "flapping", _("flapping")
    SILENCE_ENDED = "silence_ended", _("silence ended while firing")
    SILENCE_CREATED = "silence_created", _("silence created")


# The events that reach channels; acknowledgements and silences only go to the timeline.
NOTIFIED_EVENTS = (
    IncidentEventKind.OPENED,
    IncidentEventKind.RESOLVED,
    IncidentEventKind.MANUALLY_RESOLVED,
    IncidentEventKind.REMINDER,
    IncidentEventKind.FLAPPING,
    IncidentEventKind.SILENCE_ENDED,
)


class Incident(models.Model):
    """One rule firing for one key (rule + job, or the rule alone), from open to resolved."""

    key = models.CharField(_("key"), max_length=400, db_index=True)
    rule = models.CharField(_("rule"), max_length=200)
    kind = models.CharField(_("rule kind"), max_length=50)
    job = models.ForeignKey(
        "scheduler_monitor.JobDefinition",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
        verbose_name=_("job"),
    )
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=IncidentState.choices, default=IncidentState.OPEN
    )
    message = models.TextField(_("message"), blank=True)
    # The alert's figures when it last fired: {"value": .., "threshold": ..}.
    numbers = models.JSONField(_("numbers"), default=dict, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    last_fired_at = models.DateTimeField(_("last fired at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.CharField(_("acknowledged by"), max_length=150, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.CharField(
        _("resolved by"), max_length=150, blank=True, help_text=_("Empty: resolved by the rules.")
    )
    # Evaluations in a row in which the rule did not fire; resolves at the rule's resolve_after.
    quiet_evaluations = models.IntegerField(_("quiet evaluations"), default=0)
    last_notified_at = models.DateTimeField(_("last notified at"), null=True, blank=True)
    # A notification was held back by a silence or window; one goes out when it ends.
    silenced = models.BooleanField(_("silenced"), default=False)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        constraints = [
            # At most one open incident per key: the scheduler and check_scheduler_alerts
            # --notify may both open the scheduler-down incident; the database keeps one.
            models.UniqueConstraint(
                fields=["key"], condition=Q(state="open"), name="sm_incident_one_open_per_key"
            ),
        ]
        indexes = [models.Index(fields=["state", "opened_at"], name="sm_incident_state")]
        permissions = [("manage_incident", _("Can acknowledge and resolve incidents"))]

    def __str__(self):
        return f"{self.key} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == IncidentState.OPEN


class IncidentEvent(models.Model):
    """One entry of an incident's timeline; manual ones say who, when and from where."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=32, choices=IncidentEventKind.choices)
    at = models.DateTimeField(_("at"))
    actor = models.CharField(_("by"), max_length=150, blank=True)
    address = models.GenericIPAddressField(_("from address"), null=True, blank=True)
    # Whether messages were queued for it (False: silenced, flapping or no channel).
    notified = models.BooleanField(_("notified"), default=False)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("incident event")
        verbose_name_plural = _("incident events")
        indexes = [models.Index(fields=["incident", "at"], name="sm_incident_event_at")]

    def __str__(self):
        return f"{self.incident_id} {self.kind} @ {self.at}"


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("email")
    WEBHOOK = "webhook", _("webhook (signed JSON)")
    SLACK = "slack", _("Slack-compatible incoming webhook")
    PAGERDUTY = "pagerduty", _("PagerDuty Events API v2")


class ChannelLanguage(models.TextChoices):
    EN = "en", "English"
    ZH_HANS = "zh-hans", "简体中文"


class NotificationChannel(models.Model):
    """Where messages go, and which incidents it takes (empty filters take everything)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    target = models.CharField(
        _("target"), max_length=1000, help_text=_("Webhook URL, or email addresses.")
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        blank=True,
        help_text=_("Webhook: HMAC-SHA256 key. PagerDuty: the integration's routing key."),
    )
    language = models.CharField(
        _("language"), max_length=10, choices=ChannelLanguage.choices, default=ChannelLanguage.EN
    )
    severities = models.JSONField(_("severities"), default=list, blank=True)
    categories = models.JSONField(_("categories"), default=list, blank=True)
    jobs = models.JSONField(_("job ids"), default=list, blank=True)
    rules = models.JSONField(_("rules"), default=list, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    from_settings = models.BooleanField(
        _("from settings"), default=False, help_text=_("Kept in sync with NOTIFICATION_CHANNELS.")
    )
    # Monotonic delivery-try counters (Prometheus): deleting old messages never lowers them.
    delivered_count = models.BigIntegerField(_("delivered"), default=0)
    failed_count = models.BigIntegerField(_("failed tries"), default=0)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")

    def __str__(self):
        return f"{self.name} ({self.kind})"

    def takes(self, incident: Incident) -> bool:
        """Whether this channel's filters select the incident."""
        job = incident.job
        return (
            (not self.severities or incident.severity in self.severities)
            and (not self.rules or incident.rule in self.rules)
            and (not self.jobs or (job is not None and job.job_id in self.jobs))
            and (not self.categories or (job is not None and job.category in self.categories))
        )


class OutboxState(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class OutboxMessage(models.Model):
    """One message for one channel, written with the incident change that caused it."""

    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="messages"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="messages")
    event = models.ForeignKey(IncidentEvent, on_delete=models.CASCADE, related_name="messages")
    # One per incident state change and channel; webhook receivers get it as a header.
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    payload = models.JSONField(_("payload"), default=dict)
    state = models.CharField(
        _("state"), max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.IntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"))
    # Due time; a sender claims a row by moving it past its send timeout (see outbox.py).
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="sm_outbox_due")]

    def __str__(self):
        return f"{self.idempotency_key} ({self.state})"


class DeliveryAttempt(models.Model):
    """One try at sending an outbox message: its outcome, status code and error."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="deliveries")
    number = models.IntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.FloatField(_("duration (ms)"))
    ok = models.BooleanField(_("delivered"))
    status_code = models.IntegerField(_("HTTP status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["message", "number"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self):
        return f"{self.message_id} #{self.number} {'ok' if self.ok else 'failed'}"


class SilenceScope(models.TextChoices):
    ALL = "all", _("everything")
    JOB = "job", _("job")
    CATEGORY = "category", _("category")
    RULE = "rule", _("rule")


class ScopedMute(models.Model):
    """What a silence or maintenance window mutes: everything, a job, a category or a rule."""

    scope = models.CharField(
        _("scope"), max_length=16, choices=SilenceScope.choices, default=SilenceScope.ALL
    )
    value = models.CharField(
        _("job id, category or rule"), max_length=200, blank=True, help_text=_("Empty for 'all'.")
    )
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_from = models.GenericIPAddressField(_("created from"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True

    def mutes(self, *, rule: str, job) -> bool:
        """Whether this silence covers an incident of ``rule`` on ``job``."""
        if self.scope == SilenceScope.ALL:
            return True
        if self.scope == SilenceScope.RULE:
            return rule == self.value
        if job is None:
            return False
        if self.scope == SilenceScope.JOB:
            return job.job_id == self.value
        return job.category == self.value


class Silence(ScopedMute):
    """Stops new notifications (not evaluation) between ``starts_at`` and ``ends_at``."""

    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("silence")
        verbose_name_plural = _("silences")
        indexes = [models.Index(fields=["ends_at"], name="sm_silence_ends")]

    def __str__(self):
        return f"silence {self.scope} {self.value} until {self.ends_at:%Y-%m-%d %H:%M}"


class MaintenanceWindow(ScopedMute):
    """A recurring silence: a cron expression or weekdays + time, lasting ``duration_minutes``.

    Times are in ``timezone``; runs started inside a window are marked ``in_maintenance``.
    """

    name = models.CharField(_("name"), max_length=100)
    cron = models.CharField(
        _("cron expression"), max_length=100, blank=True, help_text=_("e.g. '0 2 * * 6'.")
    )
    weekdays = models.JSONField(
        _("weekdays"), default=list, blank=True, help_text=_("0 = Monday ... 6 = Sunday.")
    )
    start_time = models.TimeField(_("start time"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"))
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")

    def __str__(self):
        return self.name
