"""Build the benchmark data sets fast (``run.PROFILES``): rows at the database's bulk speed.

- ``suite``: 1,000 jobs in 20 categories, 1,000,000 runs over 30 days (~33 a job a day);
- ``production``: the same 1,000 jobs each running once a minute for 25 h (1,500,000
  runs), plus 30 days of daily rollups before that (what pruning leaves behind);
- ``jobs5000``: 5,000 jobs, 1,000,000 runs over 30 days.

Rows go in at the database's bulk speed (``executemany`` in one transaction on SQLite,
``COPY`` on PostgreSQL), never row by row through the ORM. Counters and last-* fields are
computed while generating, so the data set is as consistent as the recording path makes it.
"""

import heapq
import json
import math
import random
from datetime import UTC, datetime, timedelta

from django.apps import apps
from django.db import connection, transaction

from scheduler_monitor.models import JobDefinition, JobRun

RUN_COLUMNS = [
    "job_id",
    "status",
    "trigger",
    "scheduled_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "error",
    "traceback",
    "measurements",
    "hostname",
    "pid",
    "recorded_at",
    # NOT NULL without a database default (added by later migrations)
    "attempt",
    "params",
]


def generate_runs(job_pks: list[int], runs: int, days: float, now: datetime, seed: int = 1):
    """Yield run tuples (columns as RUN_COLUMNS) spread evenly over the days, ~3 % failures.

    In time order over all jobs, as a recorder writes them: the table's rows (and so its
    pages and ids) follow time, which is what the prune and the time-range reads meet on
    a real database. Stored job by job instead, one day's runs sat on a page per job and
    the prune's batches touched each page again and again (figure 8b).
    """
    rng = random.Random(seed)
    per_job = runs // len(job_pks)
    span = days * 86400.0
    step = span / per_job

    def job_starts(index: int, pk: int):
        offset = (index * 7.3) % step
        for i in range(per_job):
            yield span - offset - i * step, pk  # seconds before now, descending

    profiles = {}
    for pk in job_pks:
        profile = random.Random(pk)
        profiles[pk] = (
            profile.choice([20, 50, 120, 300, 800, 2000]),
            profile.choice([0.0, 0.01, 0.02, 0.03, 0.05, 0.08]),
        )
    merged = heapq.merge(
        *(job_starts(index, pk) for index, pk in enumerate(job_pks)), key=lambda s: -s[0]
    )
    for before, pk in merged:
        median_ms, failure_rate = profiles[pk]
        started = now - timedelta(seconds=before)
        duration = median_ms * math.exp(rng.gauss(0, 0.5))
        failed = rng.random() < failure_rate
        finished = started + timedelta(milliseconds=duration)
        yield (
            pk,
            "failure" if failed else "success",
            "scheduled",
            started,
            started,
            finished,
            duration,
            "RuntimeError: upstream returned HTTP 503" if failed else "",
            "",
            "{}",
            "bench",
            1,
            finished,
            1,
            "{}",
        )


def create_jobs(count: int, categories: int) -> list[int]:
    JobDefinition.objects.bulk_create(
        [
            JobDefinition(
                job_id=f"bench_job_{i:04d}",
                name=f"Benchmark job {i}",
                owner=f"Team {i % 37}",
                category=f"Category {i % categories:02d}",
                schedule="every 1h",
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
    return list(JobDefinition.objects.order_by("pk").values_list("pk", flat=True))


def build(
    *,
    jobs: int = 1000,
    runs: int = 1_000_000,
    days: float = 30,
    categories: int = 20,
    rollup_days: int = 0,
):
    """Replace the tables' contents with the data set; return (jobs, runs) written."""
    now = datetime.now(UTC)
    with transaction.atomic():
        # Every table of the app at once, without the ORM's cascade (which collects the
        # rows' ids first: "too many SQL variables" on SQLite); the foreign keys are
        # checked at commit, when every table referring to another is empty too.
        for model in apps.get_app_config("scheduler_monitor").get_models():
            model.objects.all()._raw_delete(connection.alias)
        job_pks = create_jobs(jobs, categories)
    counters = {pk: [0, 0, 0.0, None] for pk in job_pks}  # success, failure, sum, last row

    def counted(rows):
        for row in rows:
            c = counters[row[0]]
            if row[1] == "success":
                c[0] += 1
            else:
                c[1] += 1
            c[2] += row[6]
            c[3] = row
            yield row

    rows = counted(generate_runs(job_pks, runs, days, now))
    table = JobRun._meta.db_table
    if connection.vendor == "postgresql":
        _copy_postgres(table, rows)
    else:
        _executemany(table, rows)
    with transaction.atomic():
        objs = []
        for pk, (success, failure, total, last) in counters.items():
            objs.append(
                JobDefinition(
                    pk=pk,
                    success_count=success,
                    failure_count=failure,
                    duration_sum_ms=total,
                    last_status=last[1] if last else "",
                    last_run_at=last[4] if last else None,
                    last_duration_ms=last[6] if last else None,
                )
            )
        JobDefinition.objects.bulk_update(
            objs,
            [
                "success_count",
                "failure_count",
                "duration_sum_ms",
                "last_status",
                "last_run_at",
                "last_duration_ms",
            ],
            batch_size=500,
        )
    if rollup_days:
        build_rollups(job_pks, now - timedelta(days=days), rollup_days)
    with connection.cursor() as cursor:
        # VACUUM too on PostgreSQL: the settled state autovacuum reaches on a real table
        # (visibility map set, so covering indexes are read without the heap).
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return len(job_pks), sum(c[0] + c[1] for c in counters.values())


def build_rollups(job_pks: list[int], before: datetime, days: int) -> int:
    """Daily rollups of each job for the ``days`` whole UTC days before ``before``."""
    from scheduler_monitor.models import JobRunDailyRollup

    rng = random.Random(5)
    last = before.date() - timedelta(days=1)
    rows = []
    for pk in job_pks:
        median_ms = random.Random(pk).choice([20, 50, 120, 300, 800, 2000])
        for d in range(days):
            failures = rng.randrange(0, 40)
            rows.append(
                JobRunDailyRollup(
                    job_id=pk,
                    day=last - timedelta(days=d),
                    runs=1440,
                    successes=1440 - failures,
                    failures=failures,
                    duration_count=1440,
                    duration_sum_ms=1440 * median_ms * 1.13,
                    duration_min_ms=median_ms * 0.2,
                    duration_max_ms=median_ms * 6,
                    duration_p95_ms=median_ms * 2.3,
                    rolled_up_at=before,
                )
            )
    JobRunDailyRollup.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _executemany(table: str, rows, columns=RUN_COLUMNS, time_columns=frozenset({3, 4, 5, 12})):
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"

    def converted():
        for row in rows:
            yield tuple(_sqlite_time(v) if i in time_columns else v for i, v in enumerate(row))

    with transaction.atomic(), connection.cursor() as cursor:
        batch = []
        for row in converted():
            batch.append(row)
            if len(batch) == 50_000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def _copy_postgres(table: str, rows, columns=RUN_COLUMNS) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        names = ", ".join(columns)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def describe() -> str:
    return json.dumps(
        {
            "jobs": JobDefinition.objects.count(),
            "runs": JobRun.objects.count(),
        }
    )


# -- the peer's records: django-apscheduler's own job store and executions ---------------------
PEER_COLUMNS = ["job_id", "status", "run_time", "duration", "finished", "exception", "traceback"]


def schedule_ahead() -> None:
    """Move every stored next run time into the coming hour, as a running scheduler keeps it.

    The data set is reused for days; left alone, its next run times fall behind and most
    jobs read as overdue (a scheduler down for hours), which is not the state timed here.
    """
    from django_apscheduler.models import DjangoJob

    now = datetime.now(UTC)
    job_ids = list(DjangoJob.objects.order_by("id").values_list("id", flat=True))
    with transaction.atomic():
        for i, job_id in enumerate(job_ids):
            DjangoJob.objects.filter(id=job_id).update(
                next_run_time=now + timedelta(minutes=i % 60, seconds=30)
            )


def build_peer(*, runs: int, days: float = 30) -> int:
    """Store our jobs and runs again as django-apscheduler's DjangoJob / DjangoJobExecution rows.

    Same job ids (so our pages see the jobs as scheduled) and the same number of runs over the
    same days, so the peer's admin pages can be timed against ours on equal data.
    """
    from django_apscheduler.models import DjangoJob, DjangoJobExecution

    now = datetime.now(UTC)
    with transaction.atomic():
        DjangoJobExecution.objects.all().delete()
        DjangoJob.objects.all().delete()
        job_ids = list(JobDefinition.objects.order_by("pk").values_list("job_id", flat=True))
        DjangoJob.objects.bulk_create(
            [
                DjangoJob(id=job_id, next_run_time=now + timedelta(minutes=i % 60), job_state=b"")
                for i, job_id in enumerate(job_ids)
            ],
            batch_size=1000,
        )
    pk_of = dict(JobDefinition.objects.values_list("pk", "job_id"))

    def rows():
        for pk, _status, _t, _s, started, finished, duration, error, *_ in generate_runs(
            list(pk_of), runs, days, now
        ):
            yield (
                pk_of[pk],
                DjangoJobExecution.ERROR if error else DjangoJobExecution.SUCCESS,
                started,
                round(duration / 1000.0, 2),
                round(finished.timestamp(), 2),
                error or None,
                None,
            )

    table = DjangoJobExecution._meta.db_table
    if connection.vendor == "postgresql":
        _copy_postgres(table, rows(), PEER_COLUMNS)
    else:
        _executemany(table, rows(), PEER_COLUMNS, time_columns={2})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return DjangoJobExecution.objects.count()
