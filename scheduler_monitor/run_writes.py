"""The recording path's writes: a finished run's row and its job's counters and histogram.

The SQL of the hot statements is built once per shape and cached; values still go through
each field's ``get_db_prep_save``, so rows are the same as the ORM's.
"""

import contextlib
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.expressions import CombinedExpression

from scheduler_monitor import conf, histogram
from scheduler_monitor.models import (
    FAILED_STATUSES,
    JobDefinition,
    JobRun,
    RunStatus,
    RunTrigger,
)

HOSTNAME = socket.gethostname()


@dataclass(frozen=True)
class FinishedRun:
    """Everything needed to write one finished (or never started) run."""

    job_id: str
    status: str
    trigger: str = RunTrigger.SCHEDULED
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    error: str = ""
    traceback: str = ""
    measurements: dict = field(default_factory=dict)
    hostname: str = HOSTNAME
    pid: int | None = None
    run_id: int | None = None
    # Why the record is stored other than as the job produced it (record_sanitising).
    degraded: tuple = ()


def counter_updates(record: FinishedRun) -> dict:
    """Return the ``update()`` kwargs that count one finished record on its job."""
    if record.status == RunStatus.MISSED:
        return {"missed_count": F("missed_count") + 1}
    if record.status == RunStatus.SKIPPED:
        return {"skipped_count": F("skipped_count") + 1}
    updates = {
        "last_status": record.status,
        "last_run_at": record.started_at or record.finished_at,
        "last_duration_ms": record.duration_ms,
        "last_error": record.error,
    }
    if record.status in FAILED_STATUSES:
        updates["failure_count"] = F("failure_count") + 1
    else:
        updates["success_count"] = F("success_count") + 1
        updates["last_success_at"] = updates["last_run_at"]
    if record.duration_ms is not None:
        updates["duration_sum_ms"] = F("duration_sum_ms") + record.duration_ms
    return updates


def histogram_updates(job_pk: int, records: list[FinishedRun]) -> dict:
    """Return the ``update()`` kwargs that count the records' durations in the job's histogram.

    Call inside the write transaction: the row is locked while its buckets are recomputed, so
    two writers never lose each other's observations. Observed are exactly the durations that
    ``duration_sum_ms`` adds up, so the histogram's ``_sum`` and ``_count`` agree with it.
    """
    durations = [
        r.duration_ms
        for r in records
        if r.status not in (RunStatus.MISSED, RunStatus.SKIPPED) and r.duration_ms is not None
    ]
    if not durations:
        return {}
    current = locked_buckets(job_pk)
    return {
        "duration_buckets": histogram.observe(
            current or {}, conf.get("HISTOGRAM_BUCKETS"), durations
        )
    }


# -- the write path's statements ----------------------------------------------------------------
# The same statements the ORM would run, with their SQL built once per shape instead of
# compiled by the ORM on every run: compiling four queries cost more than running them
# (figure 1 of tests/benchmarks). Values still go through each field's get_db_prep_save.

_RUN_FIELDS = [f for f in JobRun._meta.concrete_fields if not f.primary_key]


_FINISH_FIELDS = [
    JobRun._meta.get_field(name)
    for name in (
        "status",
        "finished_at",
        "duration_ms",
        "error",
        "traceback",
        "measurements",
        "recorded_at",
    )
]


_sql_cache: dict[tuple, str] = {}


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _cached_sql(key: tuple, build: Callable[[], str]) -> str:
    key = (connection.vendor, *key)
    sql = _sql_cache.get(key)
    if sql is None:
        sql = _sql_cache[key] = build()
    return sql


def insert_run(run: JobRun) -> int:
    """INSERT one run row as ``run.save()`` would; return its id."""
    returning = connection.features.can_return_columns_from_insert

    def build() -> str:
        columns = ", ".join(_quote(f.column) for f in _RUN_FIELDS)
        values = ", ".join(["%s"] * len(_RUN_FIELDS))
        sql = f"INSERT INTO {_quote(JobRun._meta.db_table)} ({columns}) VALUES ({values})"
        return sql + (f" RETURNING {_quote('id')}" if returning else "")

    sql = _cached_sql(("insert_run", returning), build)
    params = [f.get_db_prep_save(f.pre_save(run, True), connection) for f in _RUN_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            return cursor.fetchone()[0]
        return connection.ops.last_insert_id(cursor, JobRun._meta.db_table, "id")


def finish_run(run_id: int, fields: dict) -> int:
    """Store a finished record on its running row, only if still running; return rows changed."""

    def build() -> str:
        sets = ", ".join(f"{_quote(f.column)} = %s" for f in _FINISH_FIELDS)
        return (
            f"UPDATE {_quote(JobRun._meta.db_table)} SET {sets} "
            f"WHERE {_quote('id')} = %s AND {_quote('status')} = %s"
        )

    sql = _cached_sql(("finish_run",), build)
    params = [f.get_db_prep_save(fields[f.name], connection) for f in _FINISH_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, run_id, RunStatus.RUNNING])
        return cursor.rowcount


def locked_buckets(job_pk: int) -> dict:
    """Read a job's stored histogram, locking its row until the transaction ends."""
    for_update = connection.features.has_select_for_update

    def build() -> str:
        sql = (
            f"SELECT {_quote('duration_buckets')} FROM {_quote(JobDefinition._meta.db_table)} "
            f"WHERE {_quote('id')} = %s"
        )
        return sql + (" FOR UPDATE" if for_update else "")

    sql = _cached_sql(("locked_buckets", for_update), build)
    with connection.cursor() as cursor:
        cursor.execute(sql, [job_pk])
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return {}
    value = row[0]
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _job_sets(updates: dict) -> tuple[tuple, list]:
    """Return the SET shape ``((column, is_increment), ...)`` and parameters of ``updates``."""
    opts = JobDefinition._meta
    shape = []
    params = []
    for name, value in updates.items():
        field = opts.get_field(name)
        if isinstance(value, CombinedExpression):
            # F(name) + number: the increment is done by the database, as the ORM does.
            if not (
                value.connector == "+"
                and isinstance(value.lhs, F)
                and value.lhs.name == name
                and isinstance(value.rhs, Value)
            ):
                raise TypeError(f"unsupported update expression for {name}: {value!r}")
            shape.append((field.column, True))
            params.append(field.get_db_prep_save(value.rhs.value, connection))
        else:
            shape.append((field.column, False))
            params.append(field.get_db_prep_save(value, connection))
    return tuple(shape), params


def _sets_sql(shape: tuple) -> str:
    return ", ".join(
        f"{_quote(c)} = {_quote(c)} + %s" if increment else f"{_quote(c)} = %s"
        for c, increment in shape
    )


def update_job(job_pk: int, updates: dict) -> int:
    """UPDATE a job row with ``updates`` (values, or ``F(field) + number`` increments)."""
    shape, params = _job_sets(updates)
    table = JobDefinition._meta.db_table

    def build() -> str:
        return f"UPDATE {_quote(table)} SET {_sets_sql(shape)} WHERE {_quote('id')} = %s"

    sql = _cached_sql(("update_job", *shape), build)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, job_pk])
        return cursor.rowcount


def finish_and_count_in_one_statement(job_pk: int, record: FinishedRun, fields: dict) -> bool:
    """PostgreSQL: finish the running row, count it and observe its duration in one statement.

    One statement is one transaction, so row and counters still change together, and it
    saves the BEGIN, the locked histogram read and the COMMIT round trips (figure 1). The
    run is finished only if it is still running AND the job's stored histogram already
    holds every configured bound; then observing a duration is exactly what
    ``histogram.observe`` does: +1 on every stored bound at or above it, and on ``+Inf``
    (bounds are never removed, so the condition cannot stop holding). False: nothing was
    changed, and the caller takes the general path.
    """
    if connection.vendor != "postgresql" or record.run_id is None:
        return False
    if record.status in (RunStatus.MISSED, RunStatus.SKIPPED) or record.duration_ms is None:
        return False
    keys = [*histogram._keys(tuple(conf.get("HISTOGRAM_BUCKETS"))), histogram.INF]
    shape, params = _job_sets(counter_updates(record))
    run_table, job_table = JobRun._meta.db_table, JobDefinition._meta.db_table

    def build() -> str:
        run_sets = ", ".join(f"{_quote(f.column)} = %s" for f in _FINISH_FIELDS)
        buckets = _quote("duration_buckets")
        return (
            f"WITH finished AS (UPDATE {_quote(run_table)} SET {run_sets} "
            f"WHERE id = %s AND status = %s AND EXISTS (SELECT 1 FROM {_quote(job_table)} "
            f"WHERE id = %s AND {buckets} ?& %s::text[]) RETURNING id) "
            f"UPDATE {_quote(job_table)} SET {_sets_sql(shape)}, {buckets} = "
            f"(SELECT jsonb_object_agg(key, CASE WHEN key = '+Inf' OR key::float8 >= %s "
            f"THEN value::bigint + 1 ELSE value::bigint END) FROM jsonb_each_text({buckets})) "
            f"WHERE id = %s AND EXISTS (SELECT 1 FROM finished)"
        )

    sql = _cached_sql(("finish_and_count", *shape), build)
    run_params = [f.get_db_prep_save(fields[f.name], connection) for f in _FINISH_FIELDS]
    # Inside a caller's transaction, a savepoint keeps a failure from breaking it.
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *run_params,
                record.run_id,
                RunStatus.RUNNING,
                job_pk,
                keys,
                *params,
                record.duration_ms / 1000.0,
                job_pk,
            ],
        )
        return cursor.rowcount == 1


def bulk_counter_updates(records: list[FinishedRun]) -> dict:
    """Return the ``update()`` kwargs that count many finished records of one job."""
    executed = [r for r in records if r.status not in (RunStatus.MISSED, RunStatus.SKIPPED)]
    failures = sum(1 for r in executed if r.status in FAILED_STATUSES)
    updates = {
        "success_count": F("success_count") + (len(executed) - failures),
        "failure_count": F("failure_count") + failures,
        "missed_count": F("missed_count") + sum(1 for r in records if r.status == RunStatus.MISSED),
        "skipped_count": F("skipped_count")
        + sum(1 for r in records if r.status == RunStatus.SKIPPED),
        "duration_sum_ms": F("duration_sum_ms")
        + sum(r.duration_ms for r in executed if r.duration_ms is not None),
    }
    if executed:
        latest = max(executed, key=lambda r: r.started_at or r.finished_at)
        last = counter_updates(latest)
        updates.update({k: v for k, v in last.items() if k.startswith("last_")})
    successes = [r for r in executed if r.status == RunStatus.SUCCESS]
    if successes:
        updates["last_success_at"] = max(r.started_at or r.finished_at for r in successes)
    return updates
