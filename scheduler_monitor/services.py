"""Write-side use cases: syncing declarations, scheduler instances, abandoned runs, triggers."""

import functools
import logging
import math
import operator
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore

from scheduler_monitor import conf
from scheduler_monitor.models import (
    FAILED_STATUSES,
    TIMED_STATUSES,
    JobDefinition,
    JobRun,
    JobRunDailyRollup,
    RunStatus,
    SchedulerInstance,
    SchedulerLease,
    TriggerRequest,
    TriggerStatus,
)
from scheduler_monitor.registry import JobSpec
from scheduler_monitor.selectors import EPOCH, job_is_busy, paused_jobs_still_scheduled
from scheduler_monitor.stats import percentile

logger = logging.getLogger(__name__)


def job_definitions_sync(*, specs: Iterable[JobSpec]) -> list[JobDefinition]:
    """Upsert a row per declared job; mark rows no longer declared as removed (never delete)."""
    specs = list(specs)
    declared = {spec.job_id for spec in specs}
    with transaction.atomic():
        existing = {job.job_id: job for job in JobDefinition.objects.select_for_update()}
        synced = []
        for spec in specs:
            values = {
                "name": spec.name,
                "owner": spec.owner,
                "category": spec.category,
                "description": spec.description,
                "callable_path": spec.callable_path,
                "schedule": spec.schedule,
                "removed": False,
                "expected_interval_seconds": spec.expected_interval_seconds,
                "grace_seconds": spec.grace_seconds,
                "max_runtime_seconds": spec.max_runtime_seconds,
            }
            job = existing.get(spec.job_id)
            if job is None:
                job = JobDefinition.objects.create(job_id=spec.job_id, **values)
            elif any(getattr(job, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(job, key, value)
                job.save(update_fields=[*values, "updated_at"])
            synced.append(job)
        JobDefinition.objects.exclude(job_id__in=declared).filter(removed=False).update(
            removed=True, updated_at=timezone.now()
        )
    return synced


def scheduler_instance_start() -> SchedulerInstance:
    """Record that a scheduler process on this host started."""
    now = timezone.now()
    return SchedulerInstance.objects.create(
        hostname=socket.gethostname(), pid=os.getpid(), started_at=now, heartbeat_at=now
    )


def scheduler_instance_heartbeat(*, instance: SchedulerInstance) -> None:
    now = timezone.now()
    SchedulerInstance.objects.filter(pk=instance.pk).update(heartbeat_at=now)
    instance.heartbeat_at = now


def scheduler_instance_stop(*, instance: SchedulerInstance) -> None:
    now = timezone.now()
    SchedulerInstance.objects.filter(pk=instance.pk).update(heartbeat_at=now, stopped_at=now)
    instance.stopped_at = now


def live_instances(*, now: datetime | None = None):
    """Instances that have not recorded their stop and whose heartbeat is fresh."""
    now = now or timezone.now()
    stale = conf.get("HEARTBEAT_INTERVAL") * conf.get("HEARTBEAT_STALE_AFTER")
    return SchedulerInstance.objects.filter(
        stopped_at__isnull=True, heartbeat_at__gte=now - timedelta(seconds=stale)
    )


def job_runs_abandon(*, runs, reason: str) -> int:
    """Mark running runs as abandoned (counted as failures); return how many were marked."""
    now = timezone.now()
    marked = 0
    for run in runs.filter(status=RunStatus.RUNNING).select_related("job"):
        with transaction.atomic():
            updated = JobRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                status=RunStatus.ABANDONED, finished_at=now, recorded_at=now, error=reason
            )
            if not updated:
                continue
            JobDefinition.objects.filter(pk=run.job_id).update(failure_count=F("failure_count") + 1)
            # Only the job's latest run decides its last status.
            JobDefinition.objects.filter(pk=run.job_id).filter(
                Q(last_run_at__isnull=True) | Q(last_run_at__lte=run.started_at)
            ).update(
                last_status=RunStatus.ABANDONED,
                last_run_at=run.started_at,
                last_duration_ms=None,
                last_error=reason,
            )
            marked += 1
    if marked:
        logger.warning("Marked %s run(s) abandoned: %s", marked, reason)
    return marked


def job_runs_abandon_orphans(*, current: SchedulerInstance) -> int:
    """Abandon runs left running by scheduler instances that are no longer alive."""
    alive = live_instances().exclude(pk=current.pk).values_list("hostname", "pid")
    runs = JobRun.objects.filter(status=RunStatus.RUNNING)
    for hostname, pid in alive:
        runs = runs.exclude(hostname=hostname, pid=pid)
    runs = runs.exclude(hostname=current.hostname, pid=current.pid)
    return job_runs_abandon(runs=runs, reason="The scheduler running this job stopped or died")


def trigger_requests_claim(*, limit: int = 50) -> list[TriggerRequest]:
    """Claim pending trigger requests for this scheduler; each is claimed exactly once."""
    claimed = []
    pending = TriggerRequest.objects.filter(status=TriggerStatus.PENDING).order_by("requested_at")
    for request in pending.select_related("job")[:limit]:
        updated = TriggerRequest.objects.filter(pk=request.pk, status=TriggerStatus.PENDING).update(
            status=TriggerStatus.RUNNING, picked_at=timezone.now()
        )
        if updated:
            request.status = TriggerStatus.RUNNING
            claimed.append(request)
    return claimed


def trigger_request_link_run(*, request_id: int, run_id: int | None) -> None:
    if run_id is not None:
        TriggerRequest.objects.filter(pk=request_id).update(run_id=run_id)


def trigger_request_finish(*, request_id: int, succeeded: bool, error: str = "") -> None:
    TriggerRequest.objects.filter(pk=request_id).update(
        status=TriggerStatus.DONE if succeeded else TriggerStatus.FAILED,
        finished_at=timezone.now(),
        error=error,
    )


# --- API writes


class JobNotFound(LookupError):
    """No declared (non-removed) job has this id."""


class JobBusy(RuntimeError):
    """A new run would overlap one that is running or queued."""


def _declared_job(job_id: str, *, lock: bool = False) -> JobDefinition:
    jobs = JobDefinition.objects.filter(job_id=job_id, removed=False)
    if lock:
        jobs = jobs.select_for_update()
    job = jobs.first()
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist or is no longer declared")
    return job


def job_trigger(
    *, job_id: str, requested_by: str = "", allow_concurrent: bool = False
) -> TriggerRequest:
    """Queue a manual run for the scheduler process; refuse to overlap unless allowed."""
    with transaction.atomic():
        # The row lock makes two simultaneous triggers of one job queue one after the other,
        # so the second one sees the first one's pending request.
        job = _declared_job(job_id, lock=True)
        if not allow_concurrent:
            reason = job_is_busy(job=job)
            if reason:
                raise JobBusy(reason)
        return TriggerRequest.objects.create(
            job=job, requested_by=requested_by[:150], allow_concurrent=allow_concurrent
        )


def _stored_job(job_id: str):
    """The job as django-apscheduler stores it, with the store to write it back."""
    store = DjangoJobStore()
    return store, store.lookup_job(job_id)


def job_pause(*, job_id: str) -> JobDefinition:
    """Pause a job: flag it and clear its next run time in the job store.

    The running scheduler re-reads the store on its next wake-up and a restarted one
    pauses every flagged job, so either way the job stops running.
    """
    with transaction.atomic():
        job = _declared_job(job_id, lock=True)
        JobDefinition.objects.filter(pk=job.pk).update(paused=True, updated_at=timezone.now())
        store, stored = _stored_job(job_id)
        if stored is not None and stored.next_run_time is not None:
            stored.next_run_time = None
            store.update_job(stored)
    return job


def job_resume(*, job_id: str) -> JobDefinition:
    """Resume a job: clear the flag and give it its next fire time from its own trigger."""
    with transaction.atomic():
        job = _declared_job(job_id, lock=True)
        JobDefinition.objects.filter(pk=job.pk).update(paused=False, updated_at=timezone.now())
        store, stored = _stored_job(job_id)
        if stored is not None and stored.next_run_time is None:
            tz = getattr(stored.trigger, "timezone", None) or UTC
            stored.next_run_time = stored.trigger.get_next_fire_time(None, datetime.now(tz))
            store.update_job(stored)
    return job


BATCH_ACTIONS = ("trigger", "pause", "resume")


@dataclass(frozen=True)
class BatchResult:
    """What one job of a batch got: an HTTP-like status and a message."""

    job_id: str
    ok: bool
    status: int
    message: str
    trigger_id: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def jobs_batch(
    *, action: str, job_ids: Iterable[str], requested_by: str = "", allow_concurrent: bool = False
) -> list[BatchResult]:
    """Apply one action to many jobs; a job that fails does not stop the others."""
    if action not in BATCH_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(BATCH_ACTIONS)}")
    results = []
    for job_id in dict.fromkeys(job_ids):  # de-duplicated, order kept
        try:
            if action == "trigger":
                request = job_trigger(
                    job_id=job_id, requested_by=requested_by, allow_concurrent=allow_concurrent
                )
                results.append(BatchResult(job_id, True, 202, "trigger requested", request.pk))
            elif action == "pause":
                job_pause(job_id=job_id)
                results.append(BatchResult(job_id, True, 200, "paused"))
            else:
                job_resume(job_id=job_id)
                results.append(BatchResult(job_id, True, 200, "resumed"))
        except JobNotFound as exc:
            results.append(BatchResult(job_id, False, 404, str(exc)))
        except JobBusy as exc:
            results.append(BatchResult(job_id, False, 409, str(exc)))
    return results


# --- Operations writes ---------------------------------------------------------------------
# Retention: roll a day's runs up into JobRunDailyRollup, then delete them in batches.

UNSTARTED_STATUSES = (RunStatus.MISSED, RunStatus.SKIPPED)
FINISHED_STATUSES = tuple(s for s in RunStatus.values if s != RunStatus.RUNNING)


def utc_day_start(moment: datetime) -> datetime:
    """Midnight UTC of the day holding ``moment``."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def runs_between(start: datetime, end: datetime) -> Q:
    """Runs whose moment lies in [start, end).

    A run's moment is when it started; a run that never started (missed, skipped) has
    none, so its scheduled time (or, lacking that, its finish time) stands in.
    """
    return (
        Q(started_at__gte=start, started_at__lt=end)
        | Q(started_at__isnull=True, scheduled_at__gte=start, scheduled_at__lt=end)
        | Q(
            started_at__isnull=True,
            scheduled_at__isnull=True,
            finished_at__gte=start,
            finished_at__lt=end,
        )
    )


def run_moment(started_at, scheduled_at, finished_at) -> datetime | None:
    """The moment ``runs_between`` files a run under (same rule, in Python)."""
    return started_at or scheduled_at or finished_at


@dataclass
class PruneDay:
    """What the prune did (or would do) with one UTC day."""

    day: date
    deleted: int = 0
    deleted_failures: int = 0
    kept_failures: int = 0
    rolled_up_jobs: int = 0


@dataclass
class PruneResult:
    cutoff: datetime
    failure_cutoff: datetime
    dry_run: bool
    days: list[PruneDay] = field(default_factory=list)
    interrupted: bool = False

    @property
    def deleted(self) -> int:
        return sum(d.deleted for d in self.days)

    @property
    def kept_failures(self) -> int:
        return sum(d.kept_failures for d in self.days)


def job_runs_prune(
    *,
    days: int,
    keep_failures_days: int | None = None,
    batch_size: int = 5000,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PruneResult:
    """Delete finished runs of UTC days older than ``days``, rolled up per job and day first.

    Whole UTC days are pruned (a day is pruned once it ended ``days`` days ago), so each
    day is rolled up once over all its runs. Failed and abandoned runs are kept until
    ``keep_failures_days`` when given. Running runs are never touched, nor are the job
    counters. Deletes go in batches of ``batch_size`` ids, each its own short transaction,
    so neither memory nor lock time grows with the table. ``should_stop`` is asked before
    each batch; when it says so the prune ends there (``interrupted``), consistent.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if keep_failures_days is not None and keep_failures_days < days:
        raise ValueError(
            f"keep_failures_days ({keep_failures_days}) must be at least days ({days})"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    now = now or timezone.now()
    say = progress or (lambda message: None)
    stopping = should_stop or (lambda: False)
    cutoff = utc_day_start(now) - timedelta(days=days)
    failure_cutoff = utc_day_start(now) - timedelta(days=keep_failures_days or days)
    result = PruneResult(cutoff=cutoff, failure_cutoff=failure_cutoff, dry_run=dry_run)
    day_start = _first_prunable_day(cutoff, failure_cutoff)
    while day_start is not None:
        if stopping():
            result.interrupted = True
            break
        day_end = day_start + timedelta(days=1)
        keep_failures = day_start >= failure_cutoff
        outcome = PruneDay(day=day_start.date())
        if dry_run:
            _prune_day_dry(day_start, day_end, keep_failures, outcome)
        else:
            outcome.rolled_up_jobs = job_runs_roll_up_day(day=day_start.date())
            _prune_day(day_start, day_end, keep_failures, batch_size, outcome, say, stopping)
        result.days.append(outcome)
        verb = "would delete" if dry_run else "deleted"
        say(
            f"{outcome.day.isoformat()}: {verb} {outcome.deleted} run(s)"
            + (f", kept {outcome.kept_failures} failure(s)" if outcome.kept_failures else "")
        )
        day_start = _first_prunable_day(cutoff, failure_cutoff, after=day_end)
    return result


def finished_runs_between(start: datetime, end: datetime, statuses=None) -> Q:
    """Finished runs (of ``statuses``) whose moment lies in [start, end), index-friendly.

    Every write path stores ``started_at`` on runs that ran, so for them the moment is
    ``started_at`` and the (status, started_at) index answers; only missed and skipped
    runs need the fallbacks of ``runs_between``.
    """
    statuses = FINISHED_STATUSES if statuses is None else statuses
    executed = [s for s in statuses if s not in UNSTARTED_STATUSES and s != RunStatus.RUNNING]
    unstarted = [s for s in statuses if s in UNSTARTED_STATUSES]
    parts = []
    if executed:
        parts.append(Q(status__in=executed, started_at__gte=start, started_at__lt=end))
    if unstarted:
        parts.append(Q(status__in=unstarted) & runs_between(start, end))
    return functools.reduce(operator.or_, parts)


def _first_prunable_day(cutoff, failure_cutoff, *, after: datetime = EPOCH) -> datetime | None:
    """Start of the oldest UTC day (from ``after`` on) holding a run to delete."""
    failed = FAILED_STATUSES
    kept_shorter = [s for s in FINISHED_STATUSES if s not in failed]
    started = JobRun.objects.filter(
        finished_runs_between(
            after, cutoff, [s for s in kept_shorter if s not in UNSTARTED_STATUSES]
        )
        | finished_runs_between(after, failure_cutoff, failed)
    ).aggregate(m=Min("started_at"))["m"]
    # Missed and skipped runs: one minimum per fallback of runs_between.
    unstarted = JobRun.objects.filter(finished_runs_between(after, cutoff, UNSTARTED_STATUSES))
    no_start = unstarted.filter(started_at__isnull=True)
    candidates = [
        started,
        unstarted.aggregate(m=Min("started_at"))["m"],
        no_start.aggregate(m=Min("scheduled_at"))["m"],
        no_start.filter(scheduled_at__isnull=True).aggregate(m=Min("finished_at"))["m"],
    ]
    candidates = [c for c in candidates if c is not None]
    return utc_day_start(min(candidates)) if candidates else None


def _day_runs(day_start: datetime, day_end: datetime, keep_failures: bool):
    statuses = FINISHED_STATUSES
    if keep_failures:
        statuses = [s for s in statuses if s not in FAILED_STATUSES]
    return JobRun.objects.filter(finished_runs_between(day_start, day_end, statuses)).order_by()


def _kept_failures(day_start: datetime, day_end: datetime) -> int:
    return JobRun.objects.filter(finished_runs_between(day_start, day_end, FAILED_STATUSES)).count()


def _prune_day_dry(day_start, day_end, keep_failures, outcome: PruneDay) -> None:
    runs = _day_runs(day_start, day_end, keep_failures)
    outcome.deleted = runs.count()
    outcome.deleted_failures = runs.filter(status__in=FAILED_STATUSES).count()
    if keep_failures:
        outcome.kept_failures = _kept_failures(day_start, day_end)


def _prune_day(day_start, day_end, keep_failures, batch_size, outcome, say, stopping) -> None:
    runs = _day_runs(day_start, day_end, keep_failures)
    while not stopping():
        rows = list(runs.values_list("pk", "status")[:batch_size])
        if not rows:
            break
        ids = [pk for pk, _ in rows]
        # Finished runs never change status: count the failures from the rows just read.
        failures = sum(1 for _, status in rows if status in FAILED_STATUSES)
        with transaction.atomic():
            # A trigger request keeps its row; only its link to the deleted run goes.
            _unlink_trigger_requests(ids)
            deleted = _delete_runs(ids)
        outcome.deleted += deleted
        outcome.deleted_failures += failures
        if len(ids) == batch_size:
            say(f"{outcome.day.isoformat()}: {outcome.deleted} deleted so far")
    if keep_failures:
        outcome.kept_failures = _kept_failures(day_start, day_end)


def _unlink_trigger_requests(ids: list[int]) -> None:
    """Null the trigger requests' links to these runs, in one statement.

    The ORM's ``filter(run_id__in=ids).update()`` spends longer preparing 5,000 ids than
    the database spends on the statement (prune of 750,000 runs, figure 8).
    """
    table = connection.ops.quote_name(TriggerRequest._meta.db_table)
    column = connection.ops.quote_name(TriggerRequest._meta.get_field("run").column)
    ids_sql = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} IN ({ids_sql})", ids)


def _delete_runs(ids: list[int]) -> int:
    """Delete finished runs by id in one statement; return how many went.

    ``QuerySet.delete()`` would load every row first to null the trigger-request links
    (done just before) and split the ids into many statements: about 3x slower here.
    The status condition keeps a run that is running (never the case) out of it.
    """
    table = connection.ops.quote_name(JobRun._meta.db_table)
    ids_sql = ", ".join(["%s"] * len(ids))
    statuses_sql = ", ".join(["%s"] * len(FINISHED_STATUSES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN ({ids_sql}) AND status IN ({statuses_sql})",
            [*ids, *FINISHED_STATUSES],
        )
        return cursor.rowcount


@dataclass
class _DayTotals:
    """Running totals of one job's day; durations arrive sorted."""

    runs: int = 0
    successes: int = 0
    failures: int = 0
    missed: int = 0
    skipped: int = 0
    durations: list[float] = field(default_factory=list)

    def add(self, status: str, duration_ms: float | None) -> None:
        if status == RunStatus.MISSED:
            self.missed += 1
        elif status == RunStatus.SKIPPED:
            self.skipped += 1
        else:
            self.runs += 1
            if status in FAILED_STATUSES:
                self.failures += 1
            else:
                self.successes += 1
            if status in TIMED_STATUSES and duration_ms is not None:
                self.durations.append(duration_ms)


def job_runs_roll_up_day(*, day: date) -> int:
    """Roll up every finished run of one UTC day into a row per job; return rows written.

    A (job, day) already rolled up only takes runs recorded after it was (a record that
    waited in a buffer): counts, sum, min and max merge exactly; the p95 then becomes the
    count-weighted mean of the two p95s, an approximation for that rare case.
    """
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    rolled_up_at = timezone.now()
    rows = (
        JobRun.objects.filter(finished_runs_between(day_start, day_end))
        .order_by("job_id", "duration_ms")
        .values_list("job_id", "status", "duration_ms", "recorded_at")
    )
    totals: dict[int, _DayTotals] = {}
    with transaction.atomic():
        existing = {
            r.job_id: r for r in JobRunDailyRollup.objects.filter(day=day).select_for_update()
        }
        # One day's plain tuples at most: a list is faster than a server-side cursor here.
        for job_pk, status, duration_ms, recorded_at in list(rows):
            previous = existing.get(job_pk)
            if previous is not None and (
                recorded_at is None or recorded_at <= previous.rolled_up_at
            ):
                continue  # already counted when the day was rolled up
            if duration_ms is not None and not math.isfinite(duration_ms):
                duration_ms = None  # a stored nan/inf would make the rollup unwritable
            totals.setdefault(job_pk, _DayTotals()).add(status, duration_ms)
        new = []
        for job_pk, done in totals.items():
            rollup = _save_rollup(job_pk, day, done, existing.get(job_pk), rolled_up_at)
            if rollup is not None:
                new.append(rollup)
        JobRunDailyRollup.objects.bulk_create(new, batch_size=500)
    return len(totals)


def _save_rollup(job_pk, day, totals: _DayTotals, previous, rolled_up_at):
    """Return a new rollup to create, or merge into ``previous`` and return None."""
    durations = totals.durations
    values = {
        "runs": totals.runs,
        "successes": totals.successes,
        "failures": totals.failures,
        "missed": totals.missed,
        "skipped": totals.skipped,
        "duration_count": len(durations),
        "duration_sum_ms": math.fsum(durations),
        "duration_min_ms": durations[0] if durations else None,
        "duration_max_ms": durations[-1] if durations else None,
        "duration_p95_ms": percentile(durations, 0.95),
        "rolled_up_at": rolled_up_at,
    }
    if previous is None:
        return JobRunDailyRollup(job_id=job_pk, day=day, **values)
    merged = {
        key: getattr(previous, key) + values[key]
        for key in ("runs", "successes", "failures", "missed", "skipped", "duration_count")
    }
    merged["duration_sum_ms"] = previous.duration_sum_ms + values["duration_sum_ms"]
    mins = [v for v in (previous.duration_min_ms, values["duration_min_ms"]) if v is not None]
    maxes = [v for v in (previous.duration_max_ms, values["duration_max_ms"]) if v is not None]
    merged["duration_min_ms"] = min(mins) if mins else None
    merged["duration_max_ms"] = max(maxes) if maxes else None
    weighted = [
        (p95, n)
        for p95, n in (
            (previous.duration_p95_ms, previous.duration_count),
            (values["duration_p95_ms"], len(durations)),
        )
        if p95 is not None and n
    ]
    merged["duration_p95_ms"] = (
        sum(p * n for p, n in weighted) / sum(n for _, n in weighted) if weighted else None
    )
    merged["rolled_up_at"] = rolled_up_at
    JobRunDailyRollup.objects.filter(pk=previous.pk).update(**merged)
    return None


PRUNE_DEFAULT_CRON = "17 3 * * *"


def job_runs_prune_from_settings() -> PruneResult | None:
    """Prune as ``SCHEDULER_MONITOR["PRUNE_SCHEDULE"]`` says (the scheduler's prune job)."""
    options = conf.get("PRUNE_SCHEDULE")
    if not options:
        return None
    result = job_runs_prune(
        days=options["days"],
        keep_failures_days=options.get("keep_failures_days"),
        batch_size=options.get("batch_size", 5000),
        progress=logger.debug,
    )
    logger.info("Pruned %s run(s) started before %s", result.deleted, result.cutoff.date())
    return result


# One active scheduler: a lease renewed with the heartbeat, taken with a conditional update.

LEASE_NAME = "default"


def lease_ttl_seconds() -> float:
    """A lease lives as long as a heartbeat stays fresh."""
    return conf.get("HEARTBEAT_INTERVAL") * conf.get("HEARTBEAT_STALE_AFTER")


def lease_takeover_bound_seconds() -> float:
    """Longest time from the holder's last renewal until a standby holds the lease."""
    return lease_ttl_seconds() + conf.get("HEARTBEAT_INTERVAL")


def scheduler_lease_acquire(*, instance: SchedulerInstance) -> bool:
    """Take the lease if it is free, expired or already ours; True when we hold it.

    The conditional UPDATE is the lock: of two instances racing for an expired lease,
    the second matches no row. A holder whose lease expired is recorded as stopped, so
    its in-flight runs count as orphans (it died, or it lost the lease and will stop).
    """
    now = timezone.now()
    expires = now + timedelta(seconds=lease_ttl_seconds())
    lease, _ = SchedulerLease.objects.get_or_create(name=LEASE_NAME, defaults={"expires_at": now})
    leases = SchedulerLease.objects.filter(name=LEASE_NAME)
    if leases.filter(holder=instance).update(renewed_at=now, expires_at=expires):
        return True
    previous = lease.holder_id
    taken = (
        leases.filter(Q(holder__isnull=True) | Q(expires_at__lt=now))
        .exclude(holder=instance)
        .update(holder=instance, acquired_at=now, renewed_at=now, expires_at=expires)
    )
    if not taken:
        return False
    if previous is not None and previous != instance.pk:
        # A dead holder's gap (gaps.py) starts at its last heartbeat.
        instance.took_over_from = SchedulerInstance.objects.filter(pk=previous).first()
        SchedulerInstance.objects.filter(pk=previous, stopped_at__isnull=True).update(
            stopped_at=now
        )
        logger.warning("Took over the scheduler lease from instance %s (expired)", previous)
    return True


def scheduler_lease_renew(*, instance: SchedulerInstance) -> bool:
    """Extend our lease; False when another instance holds it now (we lost it)."""
    now = timezone.now()
    return bool(
        SchedulerLease.objects.filter(name=LEASE_NAME, holder=instance).update(
            renewed_at=now, expires_at=now + timedelta(seconds=lease_ttl_seconds())
        )
    )


def scheduler_lease_release(*, instance: SchedulerInstance) -> None:
    """Give the lease up at a clean stop, so a standby takes over at its next poll."""
    SchedulerLease.objects.filter(name=LEASE_NAME, holder=instance).update(
        holder=None, expires_at=timezone.now()
    )


def job_pauses_reapply(*, scheduler) -> list[str]:
    """Pause again, in a running scheduler, jobs flagged paused that it still schedules.

    A scheduler that was handing the job to its executor when the pause came writes the
    job's old next run time back; this undoes that write-back within one maintenance step.
    """
    job_ids = paused_jobs_still_scheduled()
    for job_id in job_ids:
        try:
            scheduler.pause_job(job_id, jobstore="default")
        except JobLookupError:
            continue
    if job_ids:
        logger.info("Re-applied the pause of %s", ", ".join(job_ids))
    return job_ids
