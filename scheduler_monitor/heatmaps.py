"""Failure heatmaps: failed, abandoned and missed runs per category per hour or UTC day.

A missed run counts each scheduled time it stands for (gaps.py): time in which a job
could not run shows as failures in the hour it passed.
"""

import dataclasses
import operator
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from scheduler_monitor import conf, gaps
from scheduler_monitor.failure_counts import failures_per_job_and_day, rolled_up_failures
from scheduler_monitor.hourly_counts import failures_per_job_and_hour
from scheduler_monitor.jobs import job_list
from scheduler_monitor.timestamps import iso_utc, utc_days


@dataclass(frozen=True)
class HeatmapRow:
    category: str
    counts: list[int]
    total: int
    jobs: list[dict]  # [{"job_id", "job_name", "failures"}], most failures first
    # Of the failures, how many timed out (None where not known: the rolled-up days).
    timed_out: int | None = None


@dataclass(frozen=True)
class FailureHeatmap:
    """Failures per category per bucket (hour or day), oldest bucket first."""

    bucket: str  # "hour" or "day"
    buckets: list[datetime]
    rows: list[HeatmapRow]
    max_count: int
    alarm_threshold: int

    def as_dict(self) -> dict:
        return {
            "bucket": self.bucket,
            "buckets": [iso_utc(b) for b in self.buckets],
            "categories": [asdict(row) for row in self.rows],
            "max_count": self.max_count,
            "alarm_threshold": self.alarm_threshold,
        }


def failure_heatmap(
    *, hours: int = 24, bucket: str = "hour", now: datetime | None = None
) -> FailureHeatmap:
    """Failed and abandoned runs per category per hour (or per UTC day) over the last hours."""
    if bucket not in ("hour", "day"):
        raise ValueError("bucket must be 'hour' or 'day'")
    now = now or timezone.now()
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        current = current.replace(hour=0)
    count = hours if bucket == "hour" else max(1, -(-hours // 24))
    buckets = [current - step * i for i in range(count - 1, -1, -1)]
    jobs = heatmap_jobs()
    edges = [*buckets, buckets[-1] + step]
    if bucket == "day":
        per_bucket = failures_per_job_and_day(buckets)
        per_bucket = _plus(per_bucket, gaps.missed_times_per_job_and_bucket(edges))
        # Partly from rollups, which do not keep time-outs apart.
        return heatmap_from_counts(bucket=bucket, buckets=buckets, jobs=jobs, counts=per_bucket)
    timed_out: dict[int, int] = {}
    per_bucket = failures_per_job_and_hour(buckets, timed_out=timed_out)  # past hours memoised
    per_bucket = _plus(per_bucket, gaps.missed_times_per_job_and_bucket(edges))
    heatmap = heatmap_from_counts(bucket=bucket, buckets=buckets, jobs=jobs, counts=per_bucket)
    return with_timed_out(heatmap, jobs, timed_out)


def with_timed_out(heatmap: FailureHeatmap, jobs: dict, per_job: dict[int, int]) -> FailureHeatmap:
    """Add to each row and failing job how many of its failures timed out."""
    by_id = Counter({jobs[pk][1]: n for pk, n in per_job.items() if pk in jobs})
    per_category = Counter()
    for pk, n in per_job.items():
        if pk in jobs:
            per_category[jobs[pk][0]] += n
    rows = [
        dataclasses.replace(
            row,
            timed_out=per_category[row.category],
            jobs=[{**job, "timed_out": by_id[job["job_id"]]} for job in row.jobs],
        )
        for row in heatmap.rows
    ]
    return dataclasses.replace(heatmap, rows=rows)


def _plus(counts: dict[int, list[int]], more: dict[int, list[int]]) -> dict[int, list[int]]:
    """Per-job bucket counts added up (``counts`` may be memoised: not changed)."""
    if not more:
        return counts
    summed = dict(counts)
    for job_pk, extra in more.items():
        base = summed.get(job_pk) or [0] * len(extra)
        summed[job_pk] = [a + b for a, b in zip(base, extra, strict=True)]
    return summed


def heatmap_jobs() -> dict[int, tuple[str, str, str]]:
    """The declared jobs a heatmap shows: pk -> (category, job_id, name)."""
    return {
        pk: (category, job_id, name)
        for pk, category, job_id, name in job_list()
        .order_by()
        .values_list("pk", "category", "job_id", "name")
    }


def heatmap_from_counts(
    *, bucket: str, buckets: list[datetime], jobs: dict[int, tuple], counts: dict[int, list[int]]
) -> FailureHeatmap:
    """Sum per-job counts into category rows; ``jobs`` maps pk to (category, job_id, name).

    Counts of jobs not in ``jobs`` (removed ones) are left out.
    """
    grid = {category: [0] * len(buckets) for category, _, _ in jobs.values()}
    per_job: dict[str, dict[str, list]] = {c: {} for c in grid}
    for job_pk, job_counts in counts.items():
        if job_pk not in jobs:
            continue
        category, job_id, name = jobs[job_pk]
        grid[category] = list(map(operator.add, grid[category], job_counts))
        if total := sum(job_counts):
            per_job[category][job_id] = [name, total]
    return heatmap_from_grid(bucket=bucket, buckets=buckets, grid=grid, per_job=per_job)


def heatmap_from_grid(
    *, bucket: str, buckets: list[datetime], grid: dict, per_job: dict
) -> FailureHeatmap:
    """Rows sorted by category, each with its failing jobs, most failures first."""
    rows = [
        HeatmapRow(
            category=category,
            counts=counts,
            total=sum(counts),
            jobs=[
                {"job_id": job_id, "job_name": name, "failures": n}
                for job_id, (name, n) in sorted(
                    per_job.get(category, {}).items(), key=lambda item: (-item[1][1], item[0])
                )
            ],
        )
        for category, counts in sorted(grid.items())
    ]
    return FailureHeatmap(
        bucket=bucket,
        buckets=buckets,
        rows=rows,
        max_count=max((max(r.counts) for r in rows if r.counts), default=0),
        alarm_threshold=conf.get("HEATMAP_ALARM_THRESHOLD"),
    )


def _today_counter(now: datetime):
    """Count today's failures per job from the hourly memo (the 24 h heatmap's).

    Today's complete hours are memoised already (hourly_counts.py), so only the current
    hour is counted: at 1,000 runs a minute a day's count was most of this heatmap.
    The hourly memo's lag applies (a run finishing over an hour after it started shows
    within its RECOUNT_SECONDS), as on the 24 h heatmap. Runs started after ``now``
    (none but in tests) are counted by the plain count.
    """

    def count(start: datetime, end: datetime) -> dict[int, int] | None:
        if not start <= now < end:
            return None
        current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        hours = [start + timedelta(hours=i) for i in range(int((current - start) // HOUR) + 1)]
        return {pk: sum(counts) for pk, counts in failures_per_job_and_hour(hours).items()}

    return count


HOUR = timedelta(hours=1)


def daily_failure_heatmap(*, days: int = 30, now: datetime | None = None) -> FailureHeatmap:
    """Failures per category per UTC day over ``days`` days, pruned days included.

    A (job, day) that was rolled up counts its rollup's failures (the prune may have
    kept its failed runs too); every other one counts its failed and abandoned runs.
    """
    now = now or timezone.now()
    day_list = utc_days(days, now)
    buckets = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in day_list]
    jobs = heatmap_jobs()
    rolled_up = rolled_up_failures(day_list[0])  # failures + missed, memoised
    edges = [*buckets, buckets[-1] + timedelta(days=1)]
    raw = _plus(
        failures_per_job_and_day(buckets, count_today=_today_counter(now)),
        gaps.missed_times_per_job_and_bucket(edges),
    )
    no_runs = [0] * len(day_list)
    counts = dict(raw)
    # Only the jobs with rolled-up days are merged day by day (at 5,000 jobs, looking up
    # every job's every day was a third of this heatmap).
    for job_pk in {job_pk for job_pk, _ in rolled_up}:
        counts[job_pk] = [
            rolled_up.get((job_pk, day), raw_count)
            for day, raw_count in zip(day_list, raw.get(job_pk, no_runs), strict=True)
        ]
    return heatmap_from_counts(bucket="day", buckets=buckets, jobs=jobs, counts=counts)
