"""Retention: roll a day's runs up into ``JobRunDailyRollup``, then delete them in batches."""

import logging
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.audit import audit_entries_prune
from scheduler_monitor.batch_pacing import BatchPacer
from scheduler_monitor.daily_rollups import job_runs_roll_up_day
from scheduler_monitor.incidents import incidents_prune
from scheduler_monitor.models import (
    FAILED_STATUSES,
    FINISHED_STATUSES,
    UNSTARTED_STATUSES,
    JobRun,
    TriggerRequest,
)
from scheduler_monitor.runs import finished_runs_between
from scheduler_monitor.sqlite import checkpoints_every
from scheduler_monitor.timestamps import EPOCH, utc_day_start

logger = logging.getLogger(__name__)

# WAL pages between the prune's checkpoints on SQLite (160 MB, about one day's batches of
# 5,000 jobs). At SQLite's default of 1,000 nearly every batch's commit checkpointed: the
# pages a day's batches dirty again and again were copied to the database file (and synced)
# each time. Figure 8b, 714,000 runs: 1.48-2.79x a bare DELETE at 10,000, 1.22-1.35x here.
PRUNE_CHECKPOINT_PAGES = 40_000


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
    # Where the time went (figure 8b): reading and writing the rollups; the delete batches
    # (reading their ids, deleting, committing); the pauses after them for other writers.
    rollup_seconds: float = 0.0
    delete_seconds: float = 0.0
    paused_seconds: float = 0.0
    batches: int = 0

    @property
    def busy_seconds(self) -> float:
        """The prune's own work: everything but the pauses that let other writers in."""
        return self.rollup_seconds + self.delete_seconds

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
    # One pacer for the whole prune: the batch size it learnt carries over to the next day.
    pacer = BatchPacer(batch_size, vendor=connection.vendor)
    with checkpoints_every(0 if dry_run else PRUNE_CHECKPOINT_PAGES) as checkpoints:
        _prune_days(day_start, cutoff, failure_cutoff, (pacer, checkpoints), result, say, stopping)
    # The checkpoints (the last one included) are the prune's work, not the next writer's.
    result.delete_seconds += checkpoints.seconds
    result.paused_seconds, result.batches = pacer.paused, pacer.batches
    return result


def _prune_days(day_start, cutoff, failure_cutoff, pacing, result, say, stopping) -> None:
    dry_run = result.dry_run
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
            started = time.perf_counter()
            outcome.rolled_up_jobs = job_runs_roll_up_day(day=day_start.date())
            result.rollup_seconds += time.perf_counter() - started
            _prune_day(day_start, day_end, keep_failures, pacing, outcome, say, stopping, result)
        result.days.append(outcome)
        verb = "would delete" if dry_run else "deleted"
        say(
            f"{outcome.day.isoformat()}: {verb} {outcome.deleted} run(s)"
            + (f", kept {outcome.kept_failures} failure(s)" if outcome.kept_failures else "")
        )
        day_start = _first_prunable_day(cutoff, failure_cutoff, after=day_end)


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


def _prune_day(day_start, day_end, keep_failures, pacing, outcome, say, stopping, result) -> None:
    pacer, checkpoints = pacing
    runs = _day_runs(day_start, day_end, keep_failures)
    read = _runs_by_job if connection.vendor == "sqlite" else _runs_in_turn
    # Batches of at most the batch size, sized by time, with a pause after each: the
    # scheduler's writes get the database between them (SQLite has one write lock).
    # Reads happen outside the write transaction: a read never waits for the lock.
    batches = read(runs, pacer, result)
    while not stopping():
        batch = next(batches, None)
        if batch is None:
            break
        ids, failures = batch
        more = len(ids) == pacer.size  # a full batch: more may follow
        busy = pacer.busy
        with pacer.batch(), transaction.atomic():
            # A trigger request or a retry keeps its row; only its link to the run goes.
            _unlink_runs(ids)
            deleted = _delete_runs(ids)
        result.delete_seconds += pacer.busy - busy
        checkpoints.after_commit()
        outcome.deleted += deleted
        outcome.deleted_failures += failures
        if more:
            say(f"{outcome.day.isoformat()}: {outcome.deleted} deleted so far")
    if keep_failures:
        outcome.kept_failures = _kept_failures(day_start, day_end)


def _runs_in_turn(runs, pacer: BatchPacer, result: PruneResult) -> Iterator[tuple[list, int]]:
    """Ids of the next batch of ``runs`` and how many of them failed, read after each delete."""
    while True:
        started = time.perf_counter()
        rows = list(runs.values_list("pk", "status")[: pacer.size])
        result.delete_seconds += time.perf_counter() - started
        if not rows:
            return
        # Finished runs never change status: count the failures from the rows just read.
        yield [pk for pk, _ in rows], sum(1 for _, status in rows if status in FAILED_STATUSES)


def _runs_by_job(runs, pacer: BatchPacer, result: PruneResult) -> Iterator[tuple[list, int]]:
    """Ids of ``runs`` in batches of ``pacer.size``, job by job and in time within a job, and
    how many of each batch failed.

    SQLite updates every index of a deleted row in the statement and writes each page a
    batch dirtied at its commit. Runs are stored in time order, so batches in time order
    dirty the (job, started_at) index at a page per job, the same pages again in each
    following batch (figure 8b: 2.6-2.8x a bare DELETE); job by job, a job's runs of the
    day are neighbours there, and the time-ordered table and indexes take the scatter over
    fewer pages (1.2x). The day is read once, sorted by the database, into 9 bytes a run
    (13 MB for a day of 1,000 jobs running every minute): one read instead of one per batch.
    """
    started = time.perf_counter()
    sql, params = (
        runs.order_by("job_id", "started_at", "pk").values_list("pk", "status").query
    ).sql_with_params()
    ids, failed = array("q"), bytearray()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(10_000):
            for pk, status in rows:
                ids.append(pk)
                failed.append(status in FAILED_STATUSES)
    result.delete_seconds += time.perf_counter() - started
    taken = 0
    while taken < len(ids):
        end = taken + pacer.size
        yield ids[taken:end].tolist(), sum(failed[taken:end])
        taken = end


def _unlink_runs(ids: list[int]) -> None:
    """Null the links to these runs: trigger requests' run, and retries' first attempt.

    Both are ``SET_NULL`` foreign keys, checked at commit: a retry kept past the cutoff of
    its deleted first attempt failed the whole batch. The links into the batch's id range
    are read first (two index ranges, usually empty) and only those rows are updated: an
    ``UPDATE ... WHERE run_id IN (ids)`` of every id cost 4 % of the batches (figure 8b),
    and the ORM's ``filter(run_id__in=ids).update()`` spent longer preparing 5,000 ids than
    the database spent on the statement.
    """
    wanted = set(ids)
    low, high = min(ids), max(ids)
    links = [
        (TriggerRequest._meta.db_table, TriggerRequest._meta.get_field("run").column),
        (JobRun._meta.db_table, JobRun._meta.get_field("retry_of").column),
    ]
    with connection.cursor() as cursor:
        for table, column in links:
            table, column = connection.ops.quote_name(table), connection.ops.quote_name(column)
            cursor.execute(
                f"SELECT DISTINCT {column} FROM {table} WHERE {column} BETWEEN %s AND %s",
                [low, high],
            )
            linked = [pk for (pk,) in cursor.fetchall() if pk in wanted]
            if linked:
                in_ids, params = _ids_condition(column, linked)
                cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE {in_ids}", params)


def _ids_condition(column: str, ids: list[int]) -> tuple[str, list]:
    """``column`` among ``ids``: one array parameter on PostgreSQL, a list elsewhere.

    PostgreSQL plans 5,000 placeholders slower than it runs the statement (a batch's
    unlink took 30 ms with the trigger request table empty); ``= ANY(array)`` is one value.
    """
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [ids]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _delete_runs(ids: list[int]) -> int:
    """Delete finished runs by id in one statement; return how many went.

    ``QuerySet.delete()`` would load every row first to null the trigger-request links
    (done just before) and split the ids into many statements: about 3x slower here.
    The status condition keeps a run that is running (never the case) out of it. On
    SQLite its ``+`` keeps the planner on the primary key: given the status index it
    scanned every finished run's index entry per batch (58 ms for 100 ids at 96,000
    runs, under the write lock), instead of looking the ids up (1.6 ms).
    """
    table = connection.ops.quote_name(JobRun._meta.db_table)
    in_ids, params = _ids_condition("id", ids)
    statuses_sql = ", ".join(["%s"] * len(FINISHED_STATUSES))
    status = "+status" if connection.vendor == "sqlite" else "status"
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE {in_ids} AND {status} IN ({statuses_sql})",
            [*params, *FINISHED_STATUSES],
        )
        return cursor.rowcount


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
    keep = options.get("keep_failures_days") or options["days"]
    audit_entries_prune(days=keep)
    incidents_prune(days=keep)
    return result


def prune_job_add(scheduler, *, job_id: str, jobstore: str) -> None:
    """Schedule PRUNE_SCHEDULE's prune (kept in memory, added again at each start)."""
    options = conf.get("PRUNE_SCHEDULE")
    if not options:
        return
    cron = options.get("cron", PRUNE_DEFAULT_CRON)
    scheduler.add_job(
        job_runs_prune_from_settings,
        trigger=CronTrigger.from_crontab(cron, timezone=settings.TIME_ZONE),
        id=job_id,
        name="Prune old job runs",
        jobstore=jobstore,
        replace_existing=True,
    )
