"""Failed and abandoned runs counted per job and time bucket, for the failure heatmaps.

Days before today are memoised per process: a 30-day heatmap at 1,000,000 runs costs a
2 ms check instead of a 60-80 ms count once they are known.
"""

import itertools
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Max, Q, Sum

from scheduler_monitor.models import FAILED_STATUSES, JobRun, RunStatus

FAILURE_BUCKETS_PER_QUERY = 60


def failures_per_job_and_bucket(
    edges: list[datetime],
    *,
    timed_out: dict[int, int] | None = None,
    timed_out_per_bucket: dict[int, list[int]] | None = None,
) -> dict[int, list[int]]:
    """Failed and abandoned runs of each job (by pk) in each interval [edges[i], edges[i+1]).

    With a ``timed_out`` dict, it is filled with each job's timed-out runs over all the
    intervals, from the same query (one more column, no more queries); with a
    ``timed_out_per_bucket`` dict, with each job's timed-out runs per interval (one more
    column per interval).

    The database counts them, one ``COUNT(...) FILTER`` column per interval, so a
    thousand jobs cost a thousand short rows, not a row and a datetime per failure (30
    days at 1,000,000 runs: 4x faster on PostgreSQL). The (status, started_at, job) index
    covers it. One query per 60 intervals, each over its own time range.
    """
    intervals = len(edges) - 1
    counts: dict[int, list[int]] = {}
    for first in range(0, intervals, FAILURE_BUCKETS_PER_QUERY):
        part = edges[first : first + FAILURE_BUCKETS_PER_QUERY + 1]
        columns = {
            f"bucket_{i}": Count("pk", filter=Q(started_at__gte=low, started_at__lt=high))
            for i, (low, high) in enumerate(itertools.pairwise(part))
        }
        if timed_out is not None:
            columns["timed_out"] = Count("pk", filter=Q(status=RunStatus.TIMED_OUT))
        if timed_out_per_bucket is not None:
            for i, (low, high) in enumerate(itertools.pairwise(part)):
                columns[f"timed_out_{i}"] = Count(
                    "pk",
                    filter=Q(started_at__gte=low, started_at__lt=high, status=RunStatus.TIMED_OUT),
                )
        rows = (
            JobRun.objects.filter(
                status__in=FAILED_STATUSES, started_at__gte=part[0], started_at__lt=part[-1]
            )
            .order_by()
            # Grouped by job_id + 0, not job_id: a bare job_id lets SQLite (once ANALYZE
            # ran) walk every job's runs by (job, started_at) to skip the sort: 5x slower.
            .values(job_pk=F("job_id") + 0)
            .annotate(**columns)
            .values_list("job_pk", *columns)
        )
        for job_pk, *values in rows:
            named = dict(zip(columns, values, strict=True))
            buckets = [named[f"bucket_{i}"] for i in range(len(part) - 1)]
            if timed_out is not None:
                timed_out[job_pk] = timed_out.get(job_pk, 0) + named["timed_out"]
            if timed_out_per_bucket is not None:
                per_job = timed_out_per_bucket.setdefault(job_pk, [0] * intervals)
                per_job[first : first + len(buckets)] = [
                    named[f"timed_out_{i}"] for i in range(len(part) - 1)
                ]
            counts.setdefault(job_pk, [0] * intervals)[first : first + len(buckets)] = buckets
    return counts


_memo_lock = threading.Lock()
_past_days: tuple[tuple, dict[int, list[int]]] | None = None


def failures_per_job_and_day(
    day_starts: list[datetime],
    *,
    count_today: Callable[[datetime, datetime], dict[int, int] | None] | None = None,
) -> dict[int, list[int]]:
    """Failures of each job (by pk) per day starting at each of ``day_starts``, oldest first.

    The last day (today) is counted every time, by ``count_today(start, end)`` when
    given and it answers (a per-job count: the hourly memo's, see heatmaps.py). The days
    before it change rarely (a run that started then ends in failure later, a prune
    deletes some), so their counts are kept with the count, id sum and highest id of
    their failures: a change to any of those days changes that key, read by one count
    over the covering status index.
    """
    global _past_days
    today, end = day_starts[-1], day_starts[-1] + timedelta(days=1)
    past_counts: dict[int, list[int]] = {}
    if len(day_starts) > 1:
        signature = (
            JobRun.objects.filter(
                status__in=FAILED_STATUSES, started_at__gte=day_starts[0], started_at__lt=today
            )
            .order_by()
            .aggregate(runs=Count("pk"), ids=Sum("pk"), last=Max("pk"))
        )
        key = (day_starts[0], today, *signature.values())
        with _memo_lock:
            memo = _past_days
        if memo is not None and memo[0] == key:
            past_counts = memo[1]
        else:
            past_counts = failures_per_job_and_bucket(day_starts)
            with _memo_lock:
                _past_days = (key, past_counts)
    counted = count_today(today, end) if count_today is not None else None
    if counted is not None:
        today_counts = {pk: [n] for pk, n in counted.items()}
    else:
        today_counts = failures_per_job_and_bucket([today, end])
    no_failures = [0] * (len(day_starts) - 1)
    return {
        job_pk: past_counts.get(job_pk, no_failures) + today_counts.get(job_pk, [0])
        for job_pk in past_counts.keys() | today_counts.keys()
    }


def reset_failure_memo() -> None:
    """Forget the memoised days (tests; a new process starts without them)."""
    global _past_days, _rollups, _rollups_checked
    with _memo_lock:
        _past_days = None
        _rollups = None
        _rollups_checked = None


_rollups: tuple[tuple, dict] | None = None
# (first day, rows, highest id) -> monotonic time its rolled_up_at was last checked.
_rollups_checked: tuple[tuple, float] | None = None
# How long a memo whose rows and highest id did not change is trusted without reading
# the latest roll-up time (a scan of every rollup row: 20-50 ms at 30 days x 1,000 jobs).
ROLLUP_RECHECK_SECONDS = 60
monotonic = time.monotonic  # a name tests can replace


def rolled_up_failures(first_day: date) -> dict[tuple[int, date], int]:
    """Failures plus missed runs of each rolled-up (job pk, day) from ``first_day`` on.

    Memoised per process.
    Rollups change only when a prune writes them: the memo is checked on every call by
    their count and highest id (index-only: a prune that adds or deletes rollups shows at
    once), and at most every ``ROLLUP_RECHECK_SECONDS`` by their latest roll-up time
    too (a prune that merged more runs into an existing rollup shows within that time),
    instead of reading 30,000 rows (1,000 jobs x 30 days) on every heatmap.
    """
    from scheduler_monitor.models import JobRunDailyRollup

    global _rollups, _rollups_checked
    rollups = JobRunDailyRollup.objects.filter(day__gte=first_day).order_by()
    shape = (first_day, *rollups.aggregate(rows=Count("pk"), last=Max("pk")).values())
    with _memo_lock:
        memo, checked = _rollups, _rollups_checked
    if (
        memo is not None
        and checked is not None
        and checked[0] == shape
        and monotonic() - checked[1] < ROLLUP_RECHECK_SECONDS
    ):
        return memo[1]
    key = (*shape, rollups.aggregate(at=Max("rolled_up_at"))["at"])
    if memo is None or memo[0] != key:
        memo = (
            key,
            {
                (job_pk, day): failed + missed
                for job_pk, day, failed, missed in rollups.values_list(
                    "job_id", "day", "failures", "missed"
                )
            },
        )
    with _memo_lock:
        _rollups = memo
        _rollups_checked = (shape, monotonic())
    return memo[1]
