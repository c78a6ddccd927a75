"""Daily trends per job: rollups for pruned days, raw runs for the rest.

The two never overlap because the prune rolls a (job, day) up over all its runs
before deleting any.
"""

import itertools
import math
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from scheduler_monitor.jobs import success_rate
from scheduler_monitor.models import (
    FAILED_STATUSES,
    TIMED_STATUSES,
    UNSTARTED_STATUSES,
    JobDefinition,
    JobRun,
    JobRunDailyRollup,
    RunStatus,
)
from scheduler_monitor.runs import run_moment, runs_between
from scheduler_monitor.stats import percentile
from scheduler_monitor.timestamps import utc_days


@dataclass(frozen=True)
class DailyTrend:
    """One job's runs of one UTC day, from its rollup or from its runs."""

    job_id: str
    day: date
    runs: int
    successes: int
    failures: int
    missed: int
    skipped: int
    duration_count: int
    duration_sum_ms: float
    duration_min_ms: float | None
    duration_max_ms: float | None
    duration_p95_ms: float | None
    source: str  # "rollup" or "runs"

    @property
    def avg_duration_ms(self) -> float | None:
        return self.duration_sum_ms / self.duration_count if self.duration_count else None

    @property
    def success_rate(self) -> float | None:
        return success_rate(self.successes, self.failures)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["avg_duration_ms"] = self.avg_duration_ms
        data["success_rate"] = self.success_rate
        return data


TREND_JOBS_PER_QUERY = 20


def job_daily_trends(
    *, days: int = 30, job_ids: list[str] | None = None, now: datetime | None = None
) -> list[DailyTrend]:
    """Per job and UTC day over the last ``days`` days (today included), oldest first.

    Days without any run are left out. Memory holds one job's raw runs at a time.
    """
    now = now or timezone.now()
    day_list = utc_days(days, now)
    start = datetime(day_list[0].year, day_list[0].month, day_list[0].day, tzinfo=UTC)
    jobs = JobDefinition.objects.all()
    if job_ids is not None:
        jobs = jobs.filter(job_id__in=job_ids)
    names = dict(jobs.values_list("pk", "job_id"))
    trends: dict[tuple[str, date], DailyTrend] = {}
    rollups = JobRunDailyRollup.objects.filter(day__gte=day_list[0], job_id__in=list(names))
    for r in rollups:
        key = (names[r.job_id], r.day)
        trends[key] = DailyTrend(
            job_id=key[0],
            day=r.day,
            runs=r.runs,
            successes=r.successes,
            failures=r.failures,
            missed=r.missed,
            skipped=r.skipped,
            duration_count=r.duration_count,
            duration_sum_ms=r.duration_sum_ms,
            duration_min_ms=r.duration_min_ms,
            duration_max_ms=r.duration_max_ms,
            duration_p95_ms=r.duration_p95_ms,
            source="rollup",
        )

    end = now + timedelta(days=1)
    fields = ("job_id", "status", "duration_ms", "started_at", "scheduled_at", "finished_at")
    pks = list(names)
    # A few jobs per round, each fetched whole: memory stays bounded, no server cursor.
    # Runs that ran are found by (job, started_at); missed and skipped ones by status.
    for i in range(0, len(pks), TREND_JOBS_PER_QUERY):
        chunk = pks[i : i + TREND_JOBS_PER_QUERY]
        ran = JobRun.objects.filter(
            job_id__in=chunk, started_at__gte=start, started_at__lt=end
        ).exclude(status__in=[RunStatus.RUNNING, *UNSTARTED_STATUSES])
        unstarted = JobRun.objects.filter(
            runs_between(start, end), job_id__in=chunk, status__in=UNSTARTED_STATUSES
        )
        per_day: dict[tuple[int, date], tuple[dict, list]] = {}
        rows = itertools.chain(
            # Only started_at for runs that ran: a third of the datetimes to convert.
            ran.order_by().values_list("job_id", "status", "duration_ms", "started_at"),
            (
                (job_pk, status, duration_ms, run_moment(*moments))
                for job_pk, status, duration_ms, *moments in unstarted.order_by().values_list(
                    *fields
                )
            ),
        )
        for job_pk, status, duration_ms, moment in rows:
            key = (job_pk, moment.astimezone(UTC).date())
            counts, durations = per_day.setdefault(
                key, ({"runs": 0, "successes": 0, "failures": 0, "missed": 0, "skipped": 0}, [])
            )
            if status == RunStatus.MISSED:
                counts["missed"] += 1
            elif status == RunStatus.SKIPPED:
                counts["skipped"] += 1
            else:
                counts["runs"] += 1
                counts["failures" if status in FAILED_STATUSES else "successes"] += 1
                if status in TIMED_STATUSES and duration_ms is not None:
                    durations.append(duration_ms)
        for (job_pk, day), (counts, durations) in per_day.items():
            key = (names[job_pk], day)
            if key in trends:
                continue  # the rollup already holds this day (failures kept longer)
            durations.sort()
            trends[key] = DailyTrend(
                job_id=key[0],
                day=day,
                duration_count=len(durations),
                duration_sum_ms=math.fsum(durations),
                duration_min_ms=durations[0] if durations else None,
                duration_max_ms=durations[-1] if durations else None,
                duration_p95_ms=percentile(durations, 0.95),
                source="runs",
                **counts,
            )
    return sorted(trends.values(), key=lambda t: (t.day, t.job_id))
