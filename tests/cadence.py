"""Scheduled runs' start delays (started_at - scheduled_at), read back from the database.

Shared by the cadence tests (trigger flood, prune) and the benchmark figure of
scheduled-start delay (tests/benchmarks): the numbers of both come from the recorded runs
themselves. The job ids live here, not in tests/cadence_jobs.py, whose import declares
the jobs in this process's registry (only the scheduler subprocess should).
"""

import math
from datetime import datetime

from scheduler_monitor.models import JobRun, RunTrigger

TICKS = [f"cadence_tick_{n}" for n in range(4)]  # every second, ~10 ms each
MANUAL = [f"cadence_manual_{n}" for n in range(5)]  # hourly, 2 s each: the triggers' targets


def start_delays(job_ids, *, since: datetime, until: datetime) -> list[float]:
    """Seconds each scheduled run of ``job_ids`` due in [since, until) started late, sorted."""
    rows = JobRun.objects.filter(
        job__job_id__in=list(job_ids),
        trigger=RunTrigger.SCHEDULED,
        scheduled_at__gte=since,
        scheduled_at__lt=until,
        started_at__isnull=False,
    ).values_list("scheduled_at", "started_at")
    return sorted(max(0.0, (started - scheduled).total_seconds()) for scheduled, started in rows)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of sorted values; nan when there are none."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[rank - 1]


def summary(values: list[float]) -> dict:
    return {
        "runs": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": values[-1] if values else math.nan,
    }
