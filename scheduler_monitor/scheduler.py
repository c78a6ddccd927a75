"""The scheduler process: APScheduler + DjangoJobStore, heartbeat, triggers, clean shutdown.

Started by ``manage.py runapscheduler``; never inside web workers, where every worker
would run every job. A host that builds its own scheduler gets the same through
``scheduler_monitor.instrument(scheduler)`` (instrumentation.py), which wraps its scheduler
in a ``SchedulerProcess``. Runs are recorded by the executor (executors.py), for every job.
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
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob

from scheduler_monitor import (
    conf,
    database_outages,
    discovery,
    execution_log,
    gaps,
    job_control,
    jobs,
    lease,
    record_retry,
    retention,
    run_limits,
    run_retries,
    runs,
    schedule_overrides,
    scheduler_instances,
    scheduler_stop,
    triggered_runs,
)
from scheduler_monitor.alerting import AlertingThreads
from scheduler_monitor.checks import require_use_tz
from scheduler_monitor.discovery import is_declared_job, is_internal_job
from scheduler_monitor.executors import ScheduledTimeExecutor
from scheduler_monitor.manual_pool import MANUAL_EXECUTOR, ManualRunExecutor
from scheduler_monitor.models import JobDefinition, RunStatus, RunTrigger
from scheduler_monitor.recording import DB_ERRORS, get_recorder
from scheduler_monitor.registry import build_trigger, load_declarations, registry
from scheduler_monitor.run_isolation import run_in_child_process

logger = logging.getLogger(__name__)

MANUAL_STORE = "manual"
FIRST_RUN_SPREAD_SECONDS = 10
PRUNE_JOB_ID = "scheduler-monitor-prune"


def run_monitored_job(
    job_id: str,
    trigger: str = RunTrigger.SCHEDULED,
    request_id=None,
    *,
    attempt: int = 1,
    retry_of: int | None = None,
    params: dict | None = None,
):
    """Run one declared job's function: the callable the job store keeps for declared jobs.

    Recording happens around it in the executor (with ``trigger``, ``request_id`` and, for
    retries and manual runs, ``attempt``, ``retry_of`` and ``params``, read from this
    job's arguments), as for every other job the scheduler runs. ``params`` (checked when
    the run was requested) are passed to the function; ``isolation="process"`` jobs run
    in a child process, stopped at their time limit.
    """
    spec = registry.get(job_id)
    if spec is None:
        load_declarations()
        spec = registry.get(job_id)
    if spec is None:
        raise LookupError(f"Job {job_id} is not declared any more")
    kwargs = {**spec.kwargs, **(params or {})}
    if spec.isolation == "process":
        timeout = run_limits.run_limits_of(job_id).timeout_seconds
        return run_in_child_process(spec.func, kwargs, timeout_seconds=timeout)
    return spec.func(**kwargs)


class SchedulerProcess:
    """One running scheduler: builds APScheduler, keeps the heartbeat, stops cleanly."""

    def __init__(self, scheduler=None):
        if scheduler is None:
            scheduler = BlockingScheduler(
                jobstores={
                    "default": execution_log.MonitoredJobStore(),
                    MANUAL_STORE: MemoryJobStore(),
                },
                executors={"default": ScheduledTimeExecutor(conf.get("EXECUTOR_THREADS"))},
                job_defaults={
                    "coalesce": True,
                    "max_instances": 1,
                    "misfire_grace_time": conf.get("MISFIRE_GRACE_TIME"),
                },
                timezone=settings.TIME_ZONE,
            )
        self.scheduler = scheduler
        # Manual runs get their own few threads: they never queue before scheduled ones.
        self.manual_executor = ManualRunExecutor()
        scheduler.add_executor(self.manual_executor, MANUAL_EXECUTOR)
        # The Django job store our declared jobs live in (None: a host scheduler without one).
        store = scheduler._jobstores.get("default")
        self.job_store = store if isinstance(store, DjangoJobStore) else None
        self.instrumented = False  # a host's scheduler (instrument()): standby = paused
        self.instance = None
        self.active = False  # holds the lease and runs jobs (else standby)
        self._specs = []
        self._stop = threading.Event()
        self._maintenance: threading.Thread | None = None
        # Incidents and notifications: only while this instance holds the lease.
        self._alerting = AlertingThreads(stop=self._stop, is_active=lambda: self.active)
        self._last_log_prune = 0.0
        self._listening = False
        self._finish_lock = threading.Lock()
        self._finished = False
        self._applied_triggers: dict[str, tuple] = {}  # job id -> (cron, seconds) given
        self.stopping_at = None
        self.unfinished_runs = 0  # runs still running when the stop gave up on them
        self.exiting_now = False  # a second stop signal came: the last records are being written
        self.gaps = gaps.GapRecorder()
        executor = scheduler._executors.get("default")
        if isinstance(executor, ScheduledTimeExecutor):
            executor.on_submit = self._on_submit

    # -- start ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Sync declarations, record this instance; if the lease is free, activate now."""
        require_use_tz()
        self._specs = load_declarations()
        jobs.job_definitions_sync(specs=self._specs)
        get_recorder().forget_jobs()
        discovery.get_discovery().forget()
        self.instance = scheduler_instances.scheduler_instance_start()
        if lease.try_acquire(self.instance):
            self._activate()

    def _activate(self) -> None:
        """Holding the lease: abandon orphans, register the jobs."""
        specs = self._specs
        runs.job_runs_abandon_orphans(current=self.instance)
        paused = set(JobDefinition.objects.filter(paused=True).values_list("job_id", flat=True))
        host_jobs = discovery.host_jobs(self.scheduler, skip=MANUAL_STORE)
        # The effective triggers (a runtime override, else the declaration) and run limits.
        triggers = self._refresh_run_settings()
        run_retries.retry_target_set(self.scheduler, run_monitored_job, MANUAL_STORE)
        dead = getattr(self.instance, "took_over_from", None)
        # A dead holder left its next run times in the store; re-registering overwrites them.
        left = dict(DjangoJob.objects.values_list("id", "next_run_time")) if dead else {}
        now = timezone.now()
        first_runs = {}
        for spec in specs:
            if spec.job_id in host_jobs:
                logger.error(
                    "Job id %s is declared with @monitored_job and also used by the host's job "
                    "%s; keeping the host's job as it is (rename one of them)",
                    spec.job_id,
                    host_jobs[spec.job_id],
                )
                continue
            cron, seconds = triggers.get(spec.job_id) or (spec.cron, spec.interval_seconds)
            job = self._add_job(spec, paused=spec.job_id in paused, cron=cron, seconds=seconds)
            self._applied_triggers[spec.job_id] = (cron, seconds)
            if spec.job_id not in paused:
                first_runs[spec.job_id] = (job.trigger, getattr(job, "next_run_time", None))
        if dead is not None:
            gaps.record_takeover(dead, self.instance, left, first_runs, now)
        self._remove_undeclared({spec.job_id for spec in specs})
        discovery.describe(host_jobs.values(), complete=True)
        self._add_prune_job()
        if not self._listening:
            self.scheduler.add_listener(
                self._on_not_run, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
            )
            self._listening = True
        self.active = True
        logger.info("Scheduler %s active with %s job(s)", self.instance, len(specs))

    def _add_job(self, spec, *, paused: bool, cron=None, seconds=None):
        extra = {}
        if seconds:
            # Stagger first runs over the first seconds instead of one full interval later,
            # so a restart does not leave a gap as long as the longest interval.
            spread = min(seconds, FIRST_RUN_SPREAD_SECONDS)
            offset = zlib.crc32(spec.job_id.encode()) % 1000 / 1000 * spread
            extra["next_run_time"] = timezone.now() + timedelta(seconds=offset)
        job = self.scheduler.add_job(
            run_monitored_job,
            trigger=build_trigger(cron=cron, seconds=seconds, timezone=settings.TIME_ZONE),
            args=[spec.job_id],
            id=spec.job_id,
            name=spec.name,
            max_instances=spec.max_instances,
            replace_existing=True,
            **extra,
        )
        if paused:
            job.pause()
        return job

    def _remove_undeclared(self, declared: set[str]) -> None:
        """Drop OUR store entries of declared jobs that disappeared; never a host's job."""
        if self.job_store is None:
            return
        removed = JobDefinition.objects.filter(removed=True).values_list("job_id", flat=True)
        for job_id in removed:
            if job_id in declared:
                continue
            # Straight from the store: before start() the scheduler only sees pending jobs.
            try:
                stored = self.job_store.lookup_job(job_id)
            except Exception:  # noqa: BLE001 - unreadable: not provably ours, so kept
                logger.warning("Keeping stored job %s: cannot tell whose it is", job_id)
                continue
            if stored is None or not is_declared_job(stored):
                continue
            with contextlib.suppress(JobLookupError):
                self.job_store.remove_job(job_id)

    def run(self) -> None:
        """Run until ``stop()``; then wait for running jobs and record the stop.

        A standby (the lease is held elsewhere) first waits for the lease.
        """
        if not self.active:
            if not lease.wait_for_lease(self.instance, self._stop):
                self.finish_once()
                return
            self._activate()
        if self._stop.is_set():  # asked to stop while preparing: never start
            self.finish_once()
            return
        self.start_maintenance()
        try:
            self.scheduler.start()  # blocks until shutdown
        finally:
            self.finish_once()

    def stop(self) -> None:
        """Ask the scheduler to stop; the maintenance thread shuts it down.

        Safe from a signal handler. The handler runs in the main thread, possibly inside
        the scheduler's own loop: shutting down there closed that thread's connection
        (DjangoJobStore.shutdown) under the loop's feet, which then failed on it.
        """
        if self._stop.is_set():
            return
        self.stopping_at = timezone.now()
        self._stop.set()
        logger.info(
            "Scheduler stopping: no new runs will start; running jobs get %ss "
            "(a second signal exits at once)",
            conf.get("SHUTDOWN_TIMEOUT"),
        )

    def on_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT: the first stops cleanly, a second exits at once."""
        if self._stop.is_set():
            self.exit_now(signum)
        else:
            self.stop()

    def start_maintenance(self) -> None:
        """Start the heartbeat/trigger/lease thread (once)."""
        if self._maintenance is not None:
            return
        self._maintenance = threading.Thread(
            target=self._maintenance_loop, name="scheduler-monitor-maintenance", daemon=True
        )
        self._maintenance.start()
        self._alerting.start()

    @property
    def maintenance_thread(self) -> threading.Thread | None:
        return self._maintenance

    def finish_once(self) -> None:
        """Record the stop once, however many paths ask; later callers wait for it."""
        with self._finish_lock:
            if self._finished:
                return
            self._finished = True
            self._finish()

    def _finish(self) -> None:
        """Wait up to SHUTDOWN_TIMEOUT for running jobs, abandon the rest, record the stop.

        Each step is tried on its own: a database that is down at stop must not keep the
        lease release or the stop record from being tried.
        """
        self._stop.set()
        run_retries.retry_target_set(None)
        recorder = get_recorder()
        timeout = conf.get("SHUTDOWN_TIMEOUT")
        if not recorder.wait_idle(timeout):
            logger.warning("Jobs still running after %ss; marking them abandoned", timeout)
            self.unfinished_runs = max(recorder.active_count, 1)
            self._abandon_own_runs(
                f"Scheduler stopped; the run did not finish within {timeout}s", timeout
            )
        if self._maintenance is not None:
            self._maintenance.join(timeout=5)
        self._alerting.join(timeout=5)
        self._record_stop()
        logger.info("Scheduler stopped")

    def _abandon_own_runs(self, reason: str, timeout: float | None = None) -> None:
        scheduler_stop.abandon_own_runs(self, reason, timeout)

    def _record_stop(self) -> None:
        scheduler_stop.record_stop(self)

    def exit_now(self, signum: int) -> None:
        """A second stop signal: record what can be recorded within seconds, then exit."""
        scheduler_stop.exit_now(self, signum)

    @staticmethod
    def _own_running_runs(run_ids):
        from scheduler_monitor.models import JobRun

        return JobRun.objects.filter(pk__in=run_ids)

    # -- events ---------------------------------------------------------------------------
    def _on_submit(self, job, run_times) -> None:
        if getattr(job, "_jobstore_alias", None) != MANUAL_STORE and not is_internal_job(job):
            self.gaps.on_submit(job, run_times)

    def _on_not_run(self, event: JobEvent) -> None:
        """Record missed runs and runs skipped at max_instances, one per scheduled time."""
        if event.jobstore == MANUAL_STORE:
            return
        status = RunStatus.MISSED if event.code == EVENT_JOB_MISSED else RunStatus.SKIPPED
        # A missed run event carries one time; a max-instances skip carries a list.
        times = getattr(event, "scheduled_run_times", None) or [
            getattr(event, "scheduled_run_time", None)
        ]
        if registry.get(event.job_id) is None:
            discovery.describe_by_id(self.scheduler, event.job_id, event.jobstore)
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
            if not self.active:  # an instrumented host scheduler, started paused
                self._standby_step()
                continue
            step_started = timezone.now()
            try:
                close_old_connections()
                now = timezone.now().timestamp()
                if now - last_heartbeat >= conf.get("HEARTBEAT_INTERVAL"):
                    scheduler_instances.scheduler_instance_heartbeat(instance=self.instance)
                    lease.renew_or_stop(self.instance, self.stop)
                    last_heartbeat = now
                    # A write went through (reads alone pass a held SQLite write lock).
                    database_outages.note_reachable()
                get_recorder().flush()
                self.gaps.store_found()
                record_retry.retry_writes()
                self._start_triggered_runs()
                self._prune_execution_log(now)
                job_control.job_pauses_reapply(scheduler=self.scheduler)
                schedule_overrides.job_schedules_apply(
                    scheduler=self.scheduler,
                    applied=self._applied_triggers,
                    triggers=self._refresh_run_settings(),
                )
                # Pause/resume from other processes change the job store directly;
                # waking up makes this scheduler re-read it.
                self.scheduler.wakeup()
            except DB_ERRORS as exc:
                logger.warning("Maintenance step failed, will retry: %s", exc)
                database_outages.note_unreachable(step_started)
                close_old_connections()
            except Exception:  # noqa: BLE001 - the loop must outlive any single bad step
                logger.exception("Maintenance step failed")
        self._shut_down_scheduler()

    def _standby_step(self) -> None:
        """Standby of an instrumented scheduler: beat, try the lease, then run its jobs."""
        try:
            close_old_connections()
            scheduler_instances.scheduler_instance_heartbeat(instance=self.instance)
            if lease.try_acquire(self.instance):
                logger.info("Scheduler %s took over the lease: now active", self.instance)
                self._activate()
                self.scheduler.resume()
        except DB_ERRORS as exc:
            logger.warning("Standby step failed, will retry: %s", exc)
            close_old_connections()
        except Exception:  # noqa: BLE001 - the loop must outlive any single bad step
            logger.exception("Standby step failed")

    @staticmethod
    def _refresh_run_settings() -> dict:
        """Read every job's effective trigger; refresh the run limits the executor uses."""
        triggers, limits = schedule_overrides.job_triggers_and_limits()
        run_limits.run_limits_set(limits)
        return triggers

    def _shut_down_scheduler(self) -> None:
        """Shut the scheduler down once stop() was asked, waiting for a start() in progress."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self._finished:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
                return
            time.sleep(0.05)

    def _start_triggered_runs(self) -> None:
        triggered_runs.start_triggered_runs(
            self.scheduler, self.manual_executor, run_job=run_monitored_job, jobstore=MANUAL_STORE
        )

    def _add_prune_job(self) -> None:
        retention.prune_job_add(self.scheduler, job_id=PRUNE_JOB_ID, jobstore=MANUAL_STORE)

    def _prune_execution_log(self, now: float) -> None:
        # JobRun is the history; django-apscheduler's own log, when filled, is kept short.
        if not execution_log.executions_enabled() or now - self._last_log_prune < 300:
            return
        execution_log.prune_executions()
        self._last_log_prune = now
