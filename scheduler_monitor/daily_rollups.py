"""Daily rollups: a UTC day's finished runs summed per job, written before the prune
deletes them (``JobRunDailyRollup``), merged exactly when late records arrive.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from scheduler_monitor.models import (
    FAILED_STATUSES,
    TIMED_STATUSES,
    JobRun,
    JobRunDailyRollup,
    RunStatus,
)
from scheduler_monitor.runs import finished_runs_between
from scheduler_monitor.stats import percentile


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
    # One day's plain tuples at most: a list is faster than a server-side cursor here. Read
    # and add up before the write transaction: on SQLite that transaction holds the one
    # write lock, and doing this inside it kept the scheduler's writes waiting.
    rows = list(rows)
    existing = {r.job_id: r for r in JobRunDailyRollup.objects.filter(day=day)}
    totals = _day_totals(rows, existing)
    with transaction.atomic():
        locked = {
            r.job_id: r for r in JobRunDailyRollup.objects.filter(day=day).select_for_update()
        }
        if _rolled_up_at(locked) != _rolled_up_at(existing):
            totals = _day_totals(rows, locked)  # another prune rolled the day up meanwhile
        existing = locked
        new = []
        for job_pk, done in totals.items():
            rollup = _save_rollup(job_pk, day, done, existing.get(job_pk), rolled_up_at)
            if rollup is not None:
                new.append(rollup)
        _insert_rollups(new)
    return len(totals)


ROLLUP_COLUMNS = (
    "job_id",
    "day",
    "runs",
    "successes",
    "failures",
    "missed",
    "skipped",
    "duration_count",
    "duration_sum_ms",
    "duration_min_ms",
    "duration_max_ms",
    "duration_p95_ms",
    "rolled_up_at",
)


ROLLUPS_PER_INSERT = 500  # 6,500 parameters: within SQLite's and PostgreSQL's limits


def _insert_rollups(rollups: list[JobRunDailyRollup]) -> None:
    """Insert new rollups, 500 rows a statement, the values adapted once by hand.

    ``bulk_create`` prepared every value of every row through its field (a day of 5,000
    jobs: ~0.7 s of Python, under the write lock on SQLite); these are plain numbers, a
    date and one timestamp.
    """
    if not rollups:
        return
    ops = connection.ops
    table = ops.quote_name(JobRunDailyRollup._meta.db_table)
    names = ", ".join(ops.quote_name(c) for c in ROLLUP_COLUMNS)
    marks = ", ".join(["%s"] * len(ROLLUP_COLUMNS))
    rows = [
        (
            r.job_id,
            ops.adapt_datefield_value(r.day),
            *(getattr(r, column) for column in ROLLUP_COLUMNS[2:-1]),
            ops.adapt_datetimefield_value(r.rolled_up_at),
        )
        for r in rollups
    ]
    # Multi-row VALUES (as bulk_create sends): psycopg's executemany runs one statement a row.
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROLLUPS_PER_INSERT):
            chunk = rows[start : start + ROLLUPS_PER_INSERT]
            values = ", ".join([f"({marks})"] * len(chunk))
            params = [value for row in chunk for value in row]
            cursor.execute(f"INSERT INTO {table} ({names}) VALUES {values}", params)


def _rolled_up_at(rollups: dict) -> dict:
    return {job_pk: rollup.rolled_up_at for job_pk, rollup in rollups.items()}


def _day_totals(rows, existing: dict) -> dict[int, "_DayTotals"]:
    """Per job, the totals of the rows not yet counted in the job's rollup of the day."""
    totals: dict[int, _DayTotals] = {}
    for job_pk, status, duration_ms, recorded_at in rows:
        previous = existing.get(job_pk)
        if previous is not None and (recorded_at is None or recorded_at <= previous.rolled_up_at):
            continue  # already counted when the day was rolled up
        if duration_ms is not None and not math.isfinite(duration_ms):
            duration_ms = None  # a stored nan/inf would make the rollup unwritable
        totals.setdefault(job_pk, _DayTotals()).add(status, duration_ms)
    return totals


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
