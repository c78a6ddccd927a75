"""Counts over the last 24 h that cost the same at any run rate: past hours memoised.

At 1,000 jobs running every minute the last 24 h hold 1.44M runs; counting them on every
dashboard render was most of its time. A complete hour's counts hardly change once it is
over (a run that started in it and finishes later, a prune), so each process keeps them
and counts an hour again only after ``RECOUNT_SECONDS``; the partial hours at both ends
are memoised in five-minute buckets, and only the last few minutes are counted live. A
new count may so lag by up to ``RECOUNT_SECONDS`` for a run that finished more than an
hour (in the partial hours: ``SETTLE`` after its bucket) after it started.
"""

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q

from scheduler_monitor.failure_counts import failures_per_job_and_bucket
from scheduler_monitor.failure_ratio_counts import bucket_columns
from scheduler_monitor.models import FAILED_STATUSES, TIMED_STATUSES, JobRun, RunStatus
from scheduler_monitor.timestamps import EPOCH

RECOUNT_SECONDS = 600
HOUR = timedelta(hours=1)
BUCKET = timedelta(minutes=5)  # the partial hours' memoised buckets
SETTLE = timedelta(minutes=2)  # a bucket is memoised once it ended this long ago
monotonic = time.monotonic  # a name tests can replace

_lock = threading.Lock()
# hour start -> (counted at, value); keyed per kind of count.
_runs_memo: dict[datetime, tuple[float, tuple[int, int]]] = {}
_failures_memo: dict[datetime, tuple[float, dict[int, int]]] = {}
_bucket_memo: dict[datetime, tuple[float, tuple[int, int]]] = {}


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _fresh(memo: dict, hours: list[datetime]) -> tuple[dict, list[datetime]]:
    """The memoised values still fresh, and the hours to count again."""
    now = monotonic()
    with _lock:
        for hour in [h for h in memo if h < hours[0] - timedelta(days=2)]:
            del memo[hour]  # bounded: two days of hours at most
        known = {h: memo[h][1] for h in hours if h in memo and now - memo[h][0] < RECOUNT_SECONDS}
    return known, [h for h in hours if h not in known]


def _store(memo: dict, values: dict) -> None:
    now = monotonic()
    with _lock:
        for hour, value in values.items():
            memo[hour] = (now, value)


def _recent_runs():
    return JobRun.objects.filter(
        job__removed=False, status__in=[*TIMED_STATUSES, RunStatus.ABANDONED]
    ).order_by()


def runs_and_failures(since: datetime, until: datetime) -> tuple[int, int]:
    """Finished (and abandoned) runs and failed ones started in [since, until), of live jobs.

    The complete hours between are memoised (one query for those missing or old, a column
    per hour). The partial hours at both ends are cut in five-minute buckets: those settled
    (ended ``SETTLE`` ago) are memoised the same way, and only the rest, ten minutes at most,
    is counted live (one query at each end: an OR of the two ranges made SQLite read every
    run of the statuses). Counting both partial hours live read up to two hours of runs on
    every render: ~40 ms at 1,000 jobs running every minute.
    """
    first_full, last_full = _hour(since) + HOUR, _hour(until)
    if first_full >= last_full:
        return _count(Q(started_at__gte=since, started_at__lt=until))
    hours = [first_full + HOUR * i for i in range((last_full - first_full) // HOUR)]
    known, missing = _fresh(_runs_memo, hours)
    if missing:
        known.update(_count_spans(missing, HOUR, _runs_memo))
    values = [
        *known.values(),
        *_partial_hour(since, first_full, settled=first_full),
        *_partial_hour(last_full, until, settled=until - SETTLE),
    ]
    return sum(value[0] for value in values), sum(value[1] for value in values)


def _partial_hour(start: datetime, end: datetime, *, settled: datetime) -> list[tuple[int, int]]:
    """Counts of [start, end): its buckets ended before ``settled`` memoised, the rest live."""
    first = _floor(start, BUCKET)
    first = first if first == start else first + BUCKET
    last = _floor(min(end, settled), BUCKET)
    if first >= last:
        return [_count(Q(started_at__gte=start, started_at__lt=end))]
    buckets = [first + BUCKET * i for i in range((last - first) // BUCKET)]
    known, missing = _fresh(_bucket_memo, buckets)
    if missing:
        known.update(_count_spans(missing, BUCKET, _bucket_memo))
    values = list(known.values())
    for low, high in ((start, first), (last, end)):
        if low < high:
            values.append(_count(Q(started_at__gte=low, started_at__lt=high)))
    return values


def _floor(moment: datetime, size: timedelta) -> datetime:
    return EPOCH + (moment - EPOCH) // size * size


def _count(when: Q) -> tuple[int, int]:
    row = (
        _recent_runs()
        .filter(when)
        .aggregate(runs=Count("pk"), failures=Count("pk", filter=Q(status__in=FAILED_STATUSES)))
    )
    return row["runs"], row["failures"]


def _count_spans(
    starts: list[datetime], size: timedelta, memo: dict
) -> dict[datetime, tuple[int, int]]:
    """Count the spans of ``size`` from ``starts`` (one query, a column each); memoise them."""
    row = _recent_runs().filter(started_at__gte=starts[0], started_at__lt=starts[-1] + size)
    values = row.aggregate(**bucket_columns(starts, size))
    counted = {start: (values[f"r{i}"], values[f"f{i}"]) for i, start in enumerate(starts)}
    _store(memo, counted)
    return counted


def failures_per_job_and_hour(
    hours: list[datetime], *, timed_out: dict[int, int] | None = None
) -> dict[int, list[int]]:
    """``failures_per_job_and_bucket`` over whole hours, the complete ones memoised.

    ``hours``: consecutive hour starts, oldest first; the last (the one still running) is
    counted live every time. With a ``timed_out`` dict, it is filled with each job's
    timed-out runs over all the hours (memoised alongside, no more queries).
    """
    current = hours[-1]
    past = hours[:-1]
    known, missing = _fresh(_failures_memo, past) if past else ({}, [])
    counted: dict[datetime, dict[int, tuple[int, int]]] = {}
    for run in _runs_of_consecutive(missing):
        counted.update(_failures_per_hour(run))
    _store(_failures_memo, counted)
    known.update(counted)
    live = [h for h in hours if h >= current]
    if live:
        known.update(_failures_per_hour(live))
    out: dict[int, list[int]] = {}
    for i, hour in enumerate(hours):
        for pk, (count, timed) in known.get(hour, {}).items():
            out.setdefault(pk, [0] * len(hours))[i] = count
            if timed_out is not None and timed:
                timed_out[pk] = timed_out.get(pk, 0) + timed
    return out


def _failures_per_hour(hours: list[datetime]) -> dict[datetime, dict[int, tuple[int, int]]]:
    """Each hour's failures and time-outs per job (by pk), jobs without failures left out."""
    timed: dict[int, list[int]] = {}
    per_job = failures_per_job_and_bucket([*hours, hours[-1] + HOUR], timed_out_per_bucket=timed)
    return {
        hour: {pk: (counts[i], timed[pk][i]) for pk, counts in per_job.items() if counts[i]}
        for i, hour in enumerate(hours)
    }


def _runs_of_consecutive(hours: list[datetime]) -> list[list[datetime]]:
    """Group sorted hours into runs of consecutive ones (one query per run)."""
    runs = []
    for _, group in itertools.groupby(enumerate(hours), key=lambda item: item[1] - item[0] * HOUR):
        runs.append([hour for _, hour in group])
    return runs


def reset() -> None:
    """Forget the memoised hours (tests; a new process starts without them)."""
    with _lock:
        _runs_memo.clear()
        _failures_memo.clear()
        _bucket_memo.clear()
