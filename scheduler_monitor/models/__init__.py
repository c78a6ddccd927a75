"""What is stored: declared jobs with their counters, every run, scheduler instances, triggers."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    SUCCESS = "success", _("success")
    FAILURE = "failure", _("failure")
    MISSED = "missed", _("missed")
    SKIPPED = "skipped", _("skipped (max instances)")
    ABANDONED = "abandoned", _("abandoned")
    TIMED_OUT = "timed_out", _("timed out")


class RunTrigger(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    MANUAL = "manual", _("manual")


class JobSource(models.TextChoices):
    DECLARED = "declared", _("declared (@monitored_job)")
    DISCOVERED = "discovered", _("found in the scheduler")


# Statuses that end with a duration (a timed-out run's is its time limit).
TIMED_STATUSES = (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.TIMED_OUT)
# Statuses counted by ``JobDefinition.failure_count``.
FAILED_STATUSES = (RunStatus.FAILURE, RunStatus.ABANDONED, RunStatus.TIMED_OUT)
# Statuses of runs APScheduler never started (they have no ``started_at``).
UNSTARTED_STATUSES = (RunStatus.MISSED, RunStatus.SKIPPED)
# Every status but ``running``: a finished run never changes status again.
FINISHED_STATUSES = tuple(s for s in RunStatus.values if s != RunStatus.RUNNING)


class Isolation(models.TextChoices):
    THREAD = "thread", _("thread")
    PROCESS = "process", _("child process")


class JobDefinition(models.Model):
    job_id = models.CharField(_("job id"), max_length=191, unique=True)
    name = models.CharField(_("name"), max_length=200)
    owner = models.CharField(_("owner"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=200, blank=True, db_index=True)
    description = models.TextField(_("description"), blank=True)
    callable_path = models.CharField(_("callable"), max_length=300, blank=True)
    schedule = models.CharField(_("schedule"), max_length=200, blank=True)
    paused = models.BooleanField(_("paused"), default=False)
    removed = models.BooleanField(
        _("removed"), default=False, help_text=_("No longer declared; history is kept.")
    )
    # Declared jobs are synced (and marked removed when they disappear); discovered jobs are
    # the host's own, found in its scheduler, and never removed or rewritten by the sync.
    source = models.CharField(
        _("source"), max_length=16, choices=JobSource.choices, default=JobSource.DECLARED
    )
    # Monotonic counters: pruning runs never lowers them (Prometheus counters rely on it).
    success_count = models.BigIntegerField(_("successes"), default=0)
    failure_count = models.BigIntegerField(_("failures"), default=0)
    missed_count = models.BigIntegerField(_("missed"), default=0)
    skipped_count = models.BigIntegerField(_("skipped"), default=0)
    duration_sum_ms = models.FloatField(_("total duration (ms)"), default=0.0)
    last_status = models.CharField(
        _("last status"), max_length=16, choices=RunStatus.choices, blank=True
    )
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_duration_ms = models.FloatField(_("last duration (ms)"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    # Cumulative duration histogram {"<le seconds>": count, "+Inf": count}; only grows
    # (see histogram.py), so Prometheus can take rates of it across pruning.
    duration_buckets = models.JSONField(_("duration histogram"), default=dict, blank=True)
    # Operations: set from the declaration by job_definitions_sync.
    expected_interval_seconds = models.FloatField(_("expected interval (s)"), null=True, blank=True)
    grace_seconds = models.FloatField(
        _("overdue grace (s)"), null=True, blank=True, help_text=_("Empty: the default grace.")
    )
    max_runtime_seconds = models.FloatField(
        _("max runtime (s)"), null=True, blank=True, help_text=_("Empty: derived from the p95.")
    )
    # Job control. The columns above (schedule, expected interval, grace, max runtime) and
    # the effective values below hold what applies now: the override where one is set,
    # else the declaration, which ``declared`` keeps beside (see schedule_overrides.py).
    timeout_seconds = models.FloatField(
        _("timeout (s)"), null=True, blank=True, help_text=_("Empty: no time limit.")
    )
    retries = models.PositiveIntegerField(_("retries"), default=0)
    retry_backoff_seconds = models.FloatField(_("retry backoff (s)"), default=0.0)
    isolation = models.CharField(
        _("isolation"), max_length=16, choices=Isolation.choices, default=Isolation.THREAD
    )
    params_schema = models.JSONField(
        _("parameters"), default=dict, blank=True, help_text=_("Declared name: type.")
    )
    declared = models.JSONField(_("declared schedule"), default=dict, blank=True)
    override_cron = models.CharField(_("override cron"), max_length=200, blank=True)
    override_seconds = models.FloatField(_("override interval (s)"), null=True, blank=True)
    override_grace_seconds = models.FloatField(_("override grace (s)"), null=True, blank=True)
    override_max_runtime_seconds = models.FloatField(
        _("override max runtime (s)"), null=True, blank=True
    )
    override_timeout_seconds = models.FloatField(_("override timeout (s)"), null=True, blank=True)
    override_retries = models.PositiveIntegerField(_("override retries"), null=True, blank=True)
    override_retry_backoff_seconds = models.FloatField(
        _("override retry backoff (s)"), null=True, blank=True
    )
    overridden_at = models.DateTimeField(_("overridden at"), null=True, blank=True)
    timed_out_count = models.BigIntegerField(_("timed out"), default=0)
    retried_count = models.BigIntegerField(_("retried attempts"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "job_id"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        permissions = [("trigger_job", _("Can trigger a job run"))]

    def __str__(self):
        return f"{self.name} ({self.job_id})"

    @property
    def total_runs(self) -> int:
        return self.success_count + self.failure_count

    @property
    def is_overridden(self) -> bool:
        """Whether a runtime override of the schedule, limits or retries applies."""
        return self.overridden_at is not None

    @property
    def declared_schedule(self) -> str:
        return (self.declared or {}).get("schedule") or self.schedule


class JobRun(models.Model):
    # No index of its own: the (job, started_at) index leads with it (11 B a run saved).
    job = models.ForeignKey(
        JobDefinition, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices)
    trigger = models.CharField(
        _("trigger"), max_length=16, choices=RunTrigger.choices, default=RunTrigger.SCHEDULED
    )
    scheduled_at = models.DateTimeField(_("scheduled at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_ms = models.FloatField(_("duration (ms)"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    measurements = models.JSONField(_("measurements"), default=dict, blank=True)
    hostname = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.IntegerField(_("pid"), null=True, blank=True)
    # When the finished record reached the database; windows in other processes top up
    # by it, so a record written late (after a database outage) is still picked up.
    recorded_at = models.DateTimeField(_("recorded at"), null=True, blank=True)
    # Retries: attempt 1 is the first run; later attempts link to it.
    attempt = models.PositiveIntegerField(_("attempt"), default=1)
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
        verbose_name=_("retry of"),
    )
    params = models.JSONField(_("arguments"), default=dict, blank=True)
    # Started inside a maintenance window (set by the alert evaluation, see silences.py).
    in_maintenance = models.BooleanField(_("in maintenance"), default=False, db_default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        indexes = [
            models.Index(fields=["job", "started_at"], name="sm_run_job_started"),
            # Job and id too, so the failure counts per job and bucket and the memoised
            # days' signature (count, sum and max of ids) read this index alone; SQLite
            # otherwise walked every job's runs by (job, started_at), PostgreSQL the heap.
            models.Index(
                fields=["status", "started_at", "job", "id"], name="sm_run_status_started_job"
            ),
            models.Index(fields=["recorded_at"], name="sm_run_recorded"),
            # The default ordering (newest first): run lists page by it without sorting
            # every run (the admin's run list took 4.2 s at 1,000,000 runs without it).
            models.Index(fields=["started_at", "id"], name="sm_run_started_id"),
            # Runs inside maintenance windows: few, read apart from the failure counts.
            models.Index(
                fields=["started_at"],
                condition=models.Q(in_maintenance=True),
                name="sm_run_maintenance",
            ),
        ]

    def __str__(self):
        return f"{self.job_id} {self.status} @ {self.started_at or self.scheduled_at}"


class SchedulerInstance(models.Model):
    hostname = models.CharField(_("host"), max_length=255)
    pid = models.IntegerField(_("pid"))
    started_at = models.DateTimeField(_("started at"))
    heartbeat_at = models.DateTimeField(_("last heartbeat"))
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)

    class Meta:
        ordering = ["-heartbeat_at"]
        verbose_name = _("scheduler instance")
        verbose_name_plural = _("scheduler instances")

    def __str__(self):
        return f"{self.hostname}:{self.pid}"


class TriggerStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class TriggerRequest(models.Model):
    job = models.ForeignKey(JobDefinition, on_delete=models.CASCADE, related_name="triggers")
    status = models.CharField(
        max_length=16, choices=TriggerStatus.choices, default=TriggerStatus.PENDING
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.CharField(max_length=150, blank=True)
    allow_concurrent = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True)
    picked_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "requested_at"], name="sm_trigger_status")]

    def __str__(self):
        return f"trigger {self.pk} of {self.job_id} ({self.status})"


class JobRunDailyRollup(models.Model):
    """One job's runs of one UTC day, kept after the runs themselves are pruned.

    Written by the prune before it deletes a day's runs, over every finished run of that
    day (failures kept longer included), so a day is either rolled up or still raw.
    """

    job = models.ForeignKey(JobDefinition, on_delete=models.CASCADE, related_name="daily_rollups")
    day = models.DateField(_("day (UTC)"))
    runs = models.IntegerField(_("runs"), default=0, help_text=_("successes + failures"))
    successes = models.IntegerField(_("successes"), default=0)
    failures = models.IntegerField(_("failures"), default=0, help_text=_("failed + abandoned"))
    missed = models.IntegerField(_("missed"), default=0)
    skipped = models.IntegerField(_("skipped"), default=0)
    duration_count = models.IntegerField(_("timed runs"), default=0)
    duration_sum_ms = models.FloatField(_("total duration (ms)"), default=0.0)
    duration_min_ms = models.FloatField(_("min duration (ms)"), null=True, blank=True)
    duration_max_ms = models.FloatField(_("max duration (ms)"), null=True, blank=True)
    duration_p95_ms = models.FloatField(_("p95 duration (ms)"), null=True, blank=True)
    rolled_up_at = models.DateTimeField(_("rolled up at"))

    class Meta:
        ordering = ["day", "job_id"]
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")
        constraints = [
            models.UniqueConstraint(fields=["job", "day"], name="sm_rollup_job_day"),
        ]
        indexes = [models.Index(fields=["day"], name="sm_rollup_day")]

    def __str__(self):
        return f"{self.job_id} {self.day}: {self.runs} runs"


class SchedulerLease(models.Model):
    """Which scheduler instance may run jobs: one row, held by at most one instance.

    The holder renews it with each heartbeat; another instance takes it over with a
    conditional update once it has expired, so two schedulers never run jobs at once.
    """

    name = models.CharField(_("name"), max_length=100, unique=True, default="default")
    holder = models.ForeignKey(
        SchedulerInstance, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acquired_at = models.DateTimeField(_("acquired at"), null=True, blank=True)
    renewed_at = models.DateTimeField(_("renewed at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("scheduler lease")
        verbose_name_plural = _("scheduler leases")

    def __str__(self):
        return f"lease {self.name} held by {self.holder_id or 'nobody'}"


from scheduler_monitor.models.audit import AuditAuth, AuditEntry  # noqa: E402, F401
from scheduler_monitor.models.incidents import (  # noqa: E402, F401 - re-exported, after JobDefinition
    ChannelKind,
    ChannelLanguage,
    DeliveryAttempt,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentState,
    MaintenanceWindow,
    NotificationChannel,
    OutboxMessage,
    OutboxState,
    Severity,
    Silence,
    SilenceScope,
)
from scheduler_monitor.models.scheduler_events import (  # noqa: E402, F401 - after the core models
    RecordDegradation,
    SchedulerEvent,
    SchedulerEventKind,
)
