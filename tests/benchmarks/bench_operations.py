"""Time the operations reads and the prune on a large history (not part of the suite).

    DATABASE_URL=... python tests/benchmarks/bench_operations.py --runs 500000 --jobs 200

Uses (and empties) the database given by DATABASE_URL: point it at a scratch database.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from scheduler_monitor import alert_rules, heatmaps, retention, schedule_health, trends  # noqa: E402
from scheduler_monitor.models import JobDefinition, JobRun, JobRunDailyRollup  # noqa: E402


def timed(label, func):
    t0 = time.perf_counter()
    result = func()
    print(f"{label:<48} {time.perf_counter() - t0:8.2f} s")
    return result


def fill(runs: int, jobs: int, days: int) -> None:
    JobRun.objects.all().delete()
    JobRunDailyRollup.objects.all().delete()
    JobDefinition.objects.all().delete()
    defs = JobDefinition.objects.bulk_create(
        JobDefinition(
            job_id=f"bench_{i}",
            name=f"Bench {i}",
            category=f"C{i % 8}",
            expected_interval_seconds=60,
        )
        for i in range(jobs)
    )
    rng = random.Random(1)
    now = timezone.now()
    span = days * 86400
    batch = []
    for _ in range(runs):
        at = now - timedelta(seconds=rng.uniform(0, span))
        failed = rng.random() < 0.05
        duration = rng.lognormvariate(5, 0.6)
        batch.append(
            JobRun(
                job=rng.choice(defs),
                status="failure" if failed else "success",
                started_at=at,
                scheduled_at=at,
                recorded_at=at,
                finished_at=at + timedelta(milliseconds=duration),
                duration_ms=duration,
            )
        )
        if len(batch) == 5000:
            JobRun.objects.bulk_create(batch)
            batch = []
    JobRun.objects.bulk_create(batch)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--days", type=int, default=40)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    timed(f"insert {args.runs} runs", lambda: fill(args.runs, args.jobs, args.days))
    timed("job_daily_trends(days=30), before prune", lambda: trends.job_daily_trends(days=30))
    timed("firing_alerts() (default rules)", alert_rules.firing_alerts)
    timed("job_schedules()", schedule_health.job_schedules)
    timed("job_lateness_statistics(hours=24)", schedule_health.job_lateness_statistics)
    result = timed(
        "job_runs_prune(days=30, batch_size=5000)",
        lambda: retention.job_runs_prune(days=30, batch_size=5000),
    )
    print(
        f"  deleted {result.deleted} runs over {len(result.days)} days, "
        f"{JobRunDailyRollup.objects.count()} rollups"
    )
    timed("job_daily_trends(days=30), after prune", lambda: trends.job_daily_trends(days=30))
    timed("daily_failure_heatmap(days=30)", heatmaps.daily_failure_heatmap)


if __name__ == "__main__":
    main()
