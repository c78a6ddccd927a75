"""The scheduler process: APScheduler + DjangoJobStore, heartbeat, triggers, clean shutdown.

Started by ``manage.py runapscheduler``; never inside web workers, where every worker
would run every job.
"""

import contextlib
import logging
import threading
import time
import zlib
from datetime import UTC, timedelta

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJobExecution

from scheduler_monitor import conf, job_control, jobs, lease, retention, runs, scheduler_instances
from scheduler_monitor.executors import ScheduledTimeExecutor, current_scheduled_time
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import JobDefinition, RunStatus, RunTrigger
from scheduler_monitor.notification_channels import notification_channels_sync
from scheduler_monitor.outbox import OutboxSender
from scheduler_monitor.recording import DB_ERRORS, get_recorder
from scheduler_monitor.registry import load_declarations, registry

logger = logging.getLogger(__name__)

MANUAL_STORE = "manual"
FIRST_RUN_SPREAD_SECONDS = 10
PRUNE_JOB_ID = "scheduler-monitor-prune"


def run_monitored_job(job_id: str, trigger: str = RunTrigger.SCHEDULED, request_id=None):
    """Run one declared job through the recording path (the job store's stored callable)."""
    spec = registry.get(job_id)
    if spec is None:
        load_declarations()
        spec = registry.get(job_id)
    if spec is None:
        logger.error("Job %s is not declared any more; not running it", job_id)
        if request_id is not None:
            job_control.trigger_request_finish(
                request_id=request_id, succeeded=False, error="Job is not declared"
            )
        return

    def link(run_id):
        if request_id is not None:
            job_control.trigger_request_link_run(request_id=request_id, run_id=run_id)

    record = get_recorder().execute(
        job_id,
        lambda: spec.func(**spec.kwargs),
        trigger=trigger,
        scheduled_at=timezone.now() if trigger == RunTrigger.MANUAL else current_scheduled_time(),
        on_start=link,
    )
    if request_id is not None:
        job_control.trigger_request_finish(
            request_id=request_id,
            succeeded=record.status == RunStatus.SUCCESS,
            error=record.error,
        )


class SchedulerProcess:
    """One running scheduler: builds APScheduler, keeps the heartbeat, stops cleanly."""

    def __init__(self):
        self.job_store = DjangoJobStore()
        self.scheduler = BlockingScheduler(
            jobstores={"default": self.job_store, MANUAL_STORE: MemoryJobStore()},
            executors={"default": ScheduledTimeExecutor(conf.get("EXECUTOR_THREADS"))},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": conf.get("MISFIRE_GRACE_TIME"),
            },
            timezone=settings.TIME_ZONE,
        )
        self.instance = None
        self.active = False  # holds the lease and runs jobs (else standby)
        self._specs = []
        self._stop = threading.Event()
        self._maintenance: threading.Thread | None = None
        self._evaluator: threading.Thread | None = None
        self._sender = OutboxSender()
        self._last_log_prune = 0.0

    # -- start ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Sync declarations, record this instance; if the lease is free, activate now."""
        self._specs = load_declarations()
        jobs.job_definitions_sync(specs=self._specs)
        get_recorder().forget_jobs()
        self.instance = scheduler_instances.scheduler_instance_start()
        if lease.try_acquire(self.instance):
            self._activate()

    def _activate(self) -> None:
        """Holding the lease: abandon orphans, register the jobs."""
        specs = self._specs
        runs.job_runs_abandon_orphans(current=self.instance)
        paused = set(JobDefinition.objects.filter(paused=True).values_list("job_id", flat=True))
        for spec in specs:
            self._add_job(spec, paused=spec.job_id in paused)
        self._remove_undeclared({spec.job_id for spec in specs})
        self._add_prune_job()
        self.scheduler.add_listener(self._on_not_run, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.active = True
        logger.info("Scheduler %s active with %s job(s)", self.instance, len(specs))

    def _add_job(self, spec, *, paused: bool) -> None:
        extra = {}
        if spec.interval_seconds:
            # Stagger first runs over the first seconds instead of one full interval later,
            # so a restart does not leave a gap as long as the longest interval.
            spread = min(spec.interval_seconds, FIRST_RUN_SPREAD_SECONDS)
            offset = zlib.crc32(spec.job_id.encode()) % 1000 / 1000 * spread
            extra["next_run_time"] = timezone.now() + timedelta(seconds=offset)
        job = self.scheduler.add_job(
            run_monitored_job,
            trigger=spec.build_trigger(timezone=settings.TIME_ZONE),
            args=[spec.job_id],
            id=spec.job_id,
            name=spec.name,
            max_instances=spec.max_instances,
            replace_existing=True,
            **extra,
        )
        if paused:
            job.pause()

    def _remove_undeclared(self, declared: set[str]) -> None:
        removed = JobDefinition.objects.filter(removed=True).values_list("job_id", flat=True)
        for job_id in removed:
            if job_id in declared:
                continue
            # Straight from the store: before start() the scheduler only sees pending jobs.
            with contextlib.suppress(JobLookupError):
                self.job_store.remove_job(job_id)

    def run(self) -> None:
        """Run until ``stop()``; then wait for running jobs and record the stop.

        A standby (the lease is held elsewhere) first waits for the lease.
        """
        if not self.active:
            if not lease.wait_for_lease(self.instance, self._stop):
                self._finish()
                return
            self._activate()
        if self._stop.is_set():  # asked to stop while preparing: never start
            self._finish()
            return
        self._maintenance = threading.Thread(
            target=self._maintenance_loop, name="scheduler-monitor-maintenance", daemon=True
        )
        self._maintenance.start()
        self._start_alerting()
        try:
            self.scheduler.start()  # blocks until shutdown
        finally:
            self._finish()

    def stop(self) -> None:
        """Ask the scheduler to stop; the maintenance thread shuts it down.

        Safe from a signal handler. The handler runs in the main thread, possibly inside
        the scheduler's own loop: shutting down there closed that thread's connection
        (DjangoJobStore.shutdown) under the loop's feet, which then failed on it.
        """
        if self._stop.is_set():
            return
        self._stop.set()
        logger.info("Scheduler stopping: no new runs will start")

    def _finish(self) -> None:
        self._stop.set()
        recorder = get_recorder()
        timeout = conf.get("SHUTDOWN_TIMEOUT")
        if not recorder.wait_idle(timeout):
            logger.warning("Jobs still running after %ss; marking them abandoned", timeout)
            runs.job_runs_abandon(
                runs=self._own_running_runs(recorder.active_run_ids()),
                reason=f"Scheduler stopped; the run did not finish within {timeout}s",
            )
        if self._maintenance is not None:
            self._maintenance.join(timeout=5)
        if self._evaluator is not None:
            self._evaluator.join(timeout=5)
        self._sender.stop()
        close_old_connections()
        recorder.flush()
        if len(recorder.buffer):
            logger.error("%s run record(s) could not be written at stop", len(recorder.buffer))
        if self.active:
            lease.release(self.instance)
        if self.instance is not None:
            scheduler_instances.scheduler_instance_stop(instance=self.instance)
        logger.info("Scheduler stopped")

    @staticmethod
    def _own_running_runs(run_ids):
        from scheduler_monitor.models import JobRun

        return JobRun.objects.filter(pk__in=run_ids)

    # -- events ---------------------------------------------------------------------------
    def _on_not_run(self, event: JobEvent) -> None:
        """Record missed runs and runs skipped at max_instances, one per scheduled time."""
        if event.jobstore == MANUAL_STORE:
            return
        status = RunStatus.MISSED if event.code == EVENT_JOB_MISSED else RunStatus.SKIPPED
        # A missed run event carries one time; a max-instances skip carries a list.
        times = getattr(event, "scheduled_run_times", None) or [
            getattr(event, "scheduled_run_time", None)
        ]
        for scheduled in times:
            if scheduled is not None:
                scheduled = scheduled.astimezone(UTC)
            get_recorder().record_unstarted(event.job_id, status, scheduled)

    # -- the maintenance thread -------------------------------------------------------------
    def _maintenance_loop(self) -> None:
        """Heartbeat, trigger pick-up, buffer flush and log pruning, every few seconds."""
        interval = min(conf.get("HEARTBEAT_INTERVAL"), conf.get("TRIGGER_POLL_INTERVAL"))
        last_heartbeat = 0.0
        while not self._stop.wait(interval):
            try:
                close_old_connections()
                now = timezone.now().timestamp()
                if now - last_heartbeat >= conf.get("HEARTBEAT_INTERVAL"):
                    scheduler_instances.scheduler_instance_heartbeat(instance=self.instance)
                    lease.renew_or_stop(self.instance, self.stop)
                    last_heartbeat = now
                get_recorder().flush()
                self._start_triggered_runs()
                self._prune_execution_log(now)
                job_control.job_pauses_reapply(scheduler=self.scheduler)
                # Pause/resume from other processes change the job store directly;
                # waking up makes this scheduler re-read it.
                self.scheduler.wakeup()
            except DB_ERRORS as exc:
                logger.warning("Maintenance step failed, will retry: %s", exc)
                close_old_connections()
            except Exception:  # noqa: BLE001 - the loop must outlive any single bad step
                logger.exception("Maintenance step failed")
        self._shut_down_scheduler()

    # -- alerting: the evaluator and the sender threads ------------------------------------
    def _start_alerting(self) -> None:
        """Evaluate incidents and send notifications, each in a thread of its own.

        Separate from the maintenance thread, so a slow evaluation or a slow receiver
        never delays the heartbeat (and the lease) or the trigger pick-up.
        """
        try:
            notification_channels_sync()
        except DB_ERRORS as exc:
            logger.warning("Could not sync NOTIFICATION_CHANNELS (will use the stored): %s", exc)
        self._evaluator = threading.Thread(
            target=self._evaluation_loop, name="scheduler-monitor-incidents", daemon=True
        )
        self._evaluator.start()
        self._sender.start()

    def _evaluation_loop(self) -> None:
        """Evaluate the alert rules into incidents every ALERT_EVALUATION_INTERVAL seconds."""
        interval = conf.get("ALERT_EVALUATION_INTERVAL")
        while not self._stop.wait(interval):
            try:
                close_old_connections()
                evaluation = incidents_evaluate()
                if evaluation.messages:
                    self._sender.wake()
            except DB_ERRORS as exc:
                logger.warning("Incident evaluation failed, will retry: %s", exc)
                close_old_connections()
            except Exception:  # noqa: BLE001 - the loop must outlive any single bad evaluation
                logger.exception("Incident evaluation failed")
        close_old_connections()

    def _shut_down_scheduler(self) -> None:
        """Shut the scheduler down once stop() was asked, waiting for a start() in progress."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
                return
            time.sleep(0.05)

    def _start_triggered_runs(self) -> None:
        for request in job_control.trigger_requests_claim():
            self.scheduler.add_job(
                run_monitored_job,
                trigger="date",
                args=[request.job.job_id, RunTrigger.MANUAL, request.pk],
                id=f"manual-{request.pk}",
                name=f"{request.job.name} (manual)",
                jobstore=MANUAL_STORE,
                misfire_grace_time=None,
            )

    def _add_prune_job(self) -> None:
        # Retention (PRUNE_SCHEDULE): kept in memory, re-added at each start from settings.
        options = conf.get("PRUNE_SCHEDULE")
        if not options:
            return
        cron = options.get("cron", retention.PRUNE_DEFAULT_CRON)
        self.scheduler.add_job(
            retention.job_runs_prune_from_settings,
            trigger=CronTrigger.from_crontab(cron, timezone=settings.TIME_ZONE),
            id=PRUNE_JOB_ID,
            name="Prune old job runs",
            jobstore=MANUAL_STORE,
            replace_existing=True,
        )

    def _prune_execution_log(self, now: float) -> None:
        # JobRun is the history; django-apscheduler's own log is kept short, not twice.
        if now - self._last_log_prune < 300:
            return
        DjangoJobExecution.objects.delete_old_job_executions(conf.get("EXECUTION_LOG_MAX_AGE"))
        self._last_log_prune = now
