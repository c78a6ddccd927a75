"""A large history old enough to prune, inserted fast (bulk), for prune-under-load tests."""

import random
from datetime import timedelta

from django.utils import timezone

from scheduler_monitor.models import JobDefinition, JobRun, RunStatus

BATCH = 5000


def add_prunable_runs(runs: int, *, jobs: int = 20, days: int = 4, age_days: int = 40) -> int:
    """Insert ``runs`` finished runs of ``jobs`` new jobs over ``days`` days ending
    ``age_days`` ago (so ``prune --days 30`` deletes them all); return how many."""
    definitions = JobDefinition.objects.bulk_create(
        JobDefinition(job_id=f"history_{n}", name=f"History {n}", category="History")
        for n in range(jobs)
    )
    rng = random.Random(13)
    end = timezone.now() - timedelta(days=age_days)
    span = days * 86400
    rows = []
    for n in range(runs):
        started = end - timedelta(seconds=rng.uniform(0, span))
        duration = rng.lognormvariate(4, 0.5)
        failed = rng.random() < 0.05
        rows.append(
            JobRun(
                job=definitions[n % jobs],
                status=RunStatus.FAILURE if failed else RunStatus.SUCCESS,
                scheduled_at=started,
                started_at=started,
                finished_at=started + timedelta(milliseconds=duration),
                duration_ms=duration,
                recorded_at=started,
                error="boom" if failed else "",
            )
        )
        if len(rows) == BATCH:
            JobRun.objects.bulk_create(rows)
            rows = []
    JobRun.objects.bulk_create(rows)
    return runs
