"""Fault injection: a real scheduler with poisoned records, through a database outage.

The scheduler subprocess runs two steady jobs and one whose every record is poisoned
(NUL, nan, inf, lone surrogate, a huge message), then loses the database for ~20 s
(SQLite: another process holds the write lock; PostgreSQL: the database refuses
connections and its backends are terminated). Afterwards: every run of every job is
recorded with its right status, every scheduled second is a run or part of a recorded
gap, the counters equal the rows, the degraded-record counters equal the poisoned runs,
the outage is an event, and no record was tried more than a bounded number of times.
"""

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection

from scheduler_monitor import record_retry
from scheduler_monitor.models import (
    JobDefinition,
    JobRun,
    RecordDegradation,
    RunStatus,
    SchedulerEvent,
    SchedulerEventKind,
)
from tests.fault_poisons import POISONS
from tests.subprocesses import start_manage, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 22
JOBS = ("steady_ok", "steady_fail", "poisoned")


def finished(job_id: str, **filters) -> int:
    return (
        JobRun.objects.filter(job__job_id=job_id, **filters)
        .exclude(status__in=[RunStatus.RUNNING, RunStatus.MISSED, RunStatus.SKIPPED])
        .count()
    )


class SqliteLock:
    """Another process holds SQLite's write lock, as a long migration or backup does."""

    def __enter__(self):
        code = (
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            f"time.sleep({OUTAGE_SECONDS})\n"
            "c.execute('ROLLBACK')\n"
        )
        self.holder = subprocess.Popen(
            [sys.executable, "-c", code, connection.settings_dict["NAME"]],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout.readline().strip() == "locked"
        return self

    def __exit__(self, *exc):
        self.holder.wait(OUTAGE_SECONDS + 30)


class PostgresDown:
    """The database refuses new connections and every other backend is terminated."""

    def __enter__(self):
        import psycopg

        settings = connection.settings_dict
        self.name = settings["NAME"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.keep = cursor.fetchone()[0]  # this test's own connection
        self.admin = psycopg.connect(
            dbname="postgres",
            host=settings["HOST"],
            port=settings["PORT"],
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            autocommit=True,
        )
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        until = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < until:
            self.admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s",
                [self.name, self.keep],
            )
            time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')
        self.admin.close()


def outage():
    return SqliteLock() if connection.vendor == "sqlite" else PostgresDown()


def test_poisoned_records_and_an_outage_lose_no_run_and_block_no_record(tmp_path):
    log_path = tmp_path / "scheduler.log"
    process = start_manage(
        "runapscheduler", log_path=log_path, DJANGO_SETTINGS_MODULE="tests.fault_settings"
    )

    def log():
        return log_path.read_text(errors="replace")

    try:
        wait_for(lambda: all(finished(job) >= 2 * len(POISONS) for job in JOBS), timeout=90)
        with outage():
            pass
        wait_for(
            lambda: SchedulerEvent.objects.filter(
                kind=SchedulerEventKind.DATABASE_UNREACHABLE
            ).exists(),
            timeout=60,
        )
        resumed = finished("steady_ok")
        wait_for(lambda: finished("steady_ok") >= resumed + 3, timeout=60)
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    text = log()

    # Every run recorded, with its right status; none left running.
    assert not JobRun.objects.filter(status=RunStatus.RUNNING).exists(), text[-3000:]
    assert not JobRun.objects.filter(status=RunStatus.ABANDONED).exists()
    # (A run held up by the outage may make APScheduler skip the next time: skipped.)
    not_run = [RunStatus.MISSED, RunStatus.SKIPPED]
    assert set(
        JobRun.objects.filter(job__job_id="steady_ok")
        .exclude(status__in=not_run)
        .values_list("status", flat=True)
    ) == {RunStatus.SUCCESS}
    assert set(
        JobRun.objects.filter(job__job_id="steady_fail")
        .exclude(status__in=not_run)
        .values_list("status", flat=True)
    ) == {RunStatus.FAILURE}

    # Every poisoned run stored with the status its poison implies; each counted degraded.
    expected_reasons: Counter = Counter()
    poisoned = JobRun.objects.filter(job__job_id="poisoned").exclude(
        status__in=[RunStatus.MISSED, RunStatus.SKIPPED]
    )
    assert poisoned.count() >= 2 * len(POISONS)
    for run in poisoned:
        status, reason = POISONS[int(run.measurements["kind"])]
        assert run.status == status, (run.measurements, run.error[:200])
        assert "\x00" not in run.error + run.traceback
        assert set(run.measurements) <= {"kind"}  # nan and inf dropped
        expected_reasons[reason] += 1
    stored = dict(RecordDegradation.objects.values_list("reason", "count"))
    assert stored == dict(expected_reasons)

    # Counters equal rows, for every job.
    for job in JobDefinition.objects.filter(job_id__in=JOBS):
        runs = Counter(JobRun.objects.filter(job=job).values_list("status", flat=True))
        assert job.success_count == runs[RunStatus.SUCCESS], job.job_id
        assert job.failure_count == runs[RunStatus.FAILURE] + runs[RunStatus.ABANDONED]
        assert job.missed_count == runs[RunStatus.MISSED], job.job_id
        assert job.skipped_count == runs[RunStatus.SKIPPED], job.job_id

    # Every scheduled second of each job is a run or a missed time of a recorded gap.
    # One outage, or a few if a write got through while it flapped: together they span it.
    events = list(SchedulerEvent.objects.filter(kind=SchedulerEventKind.DATABASE_UNREACHABLE))
    assert len(events) in (1, 2, 3), [e.message for e in events]
    span = max(e.ended_at for e in events) - min(e.started_at for e in events)
    assert span >= timedelta(seconds=OUTAGE_SECONDS - 8), [e.message for e in events]
    for job_id in JOBS:
        rows = JobRun.objects.filter(job__job_id=job_id).order_by("scheduled_at")
        covered = []
        for row in rows:
            count = int(row.measurements.get("missed_fire_times", 1))
            covered += [row.scheduled_at + timedelta(seconds=k) for k in range(count)]
        covered.sort()
        assert len(set(covered)) == len(covered), job_id  # no second recorded twice
        holes = [b - a for a, b in zip(covered, covered[1:], strict=False)]
        assert max(holes) <= timedelta(seconds=1), (job_id, max(holes))
        missed = sum(int(r.measurements["missed_fire_times"]) for r in rows if r.status == "missed")
        assert missed >= OUTAGE_SECONDS - 10, (job_id, missed)

    # No record tried more than a bounded number of times.
    tries = [int(n) for n in re.findall(r"not written \(try (\d+)\)", text)]
    assert max(tries, default=0) <= record_retry.MAX_ATTEMPTS, tries
    assert "retries_exhausted" not in stored and "lost" not in stored
    print(
        f"{connection.vendor}: outage {span} in {len(events)} event(s), "
        f"degraded {stored}, max tries {max(tries, default=0)}, "
        f"missed per job {[JobDefinition.objects.get(job_id=j).missed_count for j in JOBS]}"
    )
