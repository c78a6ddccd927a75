"""Bulk run histories built fast, and their references (the retention tests' fixture)."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from scheduler_monitor.models import JobRun, RunStatus


@dataclass(frozen=True)
class Row:
    """A run as the test built it: the independent reference for what the database holds."""

    job_pk: int
    status: str
    started_at: datetime | None
    scheduled_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None

    @property
    def moment(self) -> datetime:
        return self.started_at or self.scheduled_at or self.finished_at


STATUS_WEIGHTS = [
    (RunStatus.SUCCESS, 88),
    (RunStatus.FAILURE, 7),
    (RunStatus.ABANDONED, 1),
    (RunStatus.MISSED, 2),
    (RunStatus.SKIPPED, 1),
    (RunStatus.RUNNING, 1),
]


def build_rows(jobs, *, count: int, start: datetime, end: datetime, seed: int = 7) -> list[Row]:
    """``count`` runs spread at random over [start, end) and the jobs, mixed statuses."""
    rng = random.Random(seed)
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    span = (end - start).total_seconds()
    rows = []
    for _ in range(count):
        job = rng.choice(jobs)
        status = rng.choices(statuses, weights)[0]
        at = start + timedelta(seconds=rng.uniform(0, span))
        duration = round(rng.lognormvariate(5, 0.8), 3)
        if status in (RunStatus.MISSED, RunStatus.SKIPPED):
            rows.append(Row(job.pk, status, None, at, at + timedelta(seconds=1), None))
        elif status == RunStatus.RUNNING:
            rows.append(Row(job.pk, status, at, at, None, None))
        elif status == RunStatus.ABANDONED:
            rows.append(Row(job.pk, status, at, at, at + timedelta(hours=1), None))
        else:
            finished = at + timedelta(milliseconds=duration)
            rows.append(Row(job.pk, status, at, at, finished, duration))
    return rows


def store_rows(rows: list[Row]) -> None:
    """Insert the rows with bulk_create (bypassing counters, as old history would be)."""
    JobRun.objects.bulk_create(
        (
            JobRun(
                job_id=r.job_pk,
                status=r.status,
                started_at=r.started_at,
                scheduled_at=r.scheduled_at,
                finished_at=r.finished_at,
                duration_ms=r.duration_ms,
                recorded_at=r.finished_at,
            )
            for r in rows
        ),
        batch_size=2000,
    )


@pytest.fixture
def history(make_job):
    """Build and store a run history: ``history(count=, start=, end=, jobs=)`` -> rows."""

    def make(*, count: int, start: datetime, end: datetime, jobs: int = 10, seed: int = 7):
        job_rows = [make_job() for _ in range(jobs)]
        rows = build_rows(job_rows, count=count, start=start, end=end, seed=seed)
        store_rows(rows)
        return job_rows, rows

    return make
