"""Job rows kept in step per process: each read builds again only the jobs that changed.

The dashboard, its refresh and the alert rules read every declared job on each call. At
5,000 jobs, building the model instances (even a dozen columns: the dates' conversion is
most of it) took 100-200 ms a call, while reading the same columns with dates and JSON as
text takes ~15 ms. So each read fetches the text row of every job, compares it with the
row it last built the job from, and builds (one query) only the jobs whose row differs.

The instances are shared between calls and threads: callers read them and never set an
attribute on them (``with_job_health`` does, on its own ``job_api_list`` rows).
"""

import threading
from datetime import datetime

from django.db import models
from django.db.models.functions import Cast
from django_apscheduler.models import DjangoJob

from scheduler_monitor.jobs import job_list
from scheduler_monitor.models import JobDefinition

# Big enough to read every row unfiltered (and stay under old SQLite's 999 parameters).
READ_ALL_ABOVE = 500

_lock = threading.Lock()
# fields -> job pk -> (the text row it was built from, the instance)
_built: dict[tuple[str, ...], dict[int, tuple[tuple, JobDefinition]]] = {}
# job id -> (next run time as text, as a datetime)
_next_runs: dict[str, tuple[str | None, datetime | None]] = {}


def text_columns(model, names) -> list:
    """The columns for a change check: dates and JSON as text, compared as they are.

    Converting them (datetimes on both databases, JSON) was most of reading the rows.
    """
    columns = []
    for name in names:
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        if isinstance(field, (models.DateTimeField, models.JSONField)):
            columns.append(Cast(name, output_field=models.TextField()))
        else:
            columns.append(name)
    return columns


def current_jobs(fields: tuple[str, ...]) -> list[JobDefinition]:
    """The declared jobs in display order with only ``fields`` loaded (two queries at most).

    Read-only instances: a job whose columns did not change since the last call is the
    same object as then.
    """
    rows = list(job_list().values_list(*text_columns(JobDefinition, ("pk", *fields))))
    with _lock:
        known = _built.get(fields, {})
    changed = {row[0] for row in rows if row[0] not in known or known[row[0]][0] != row}
    fresh = _build(fields, changed) if changed else {}
    built: dict[int, tuple[tuple, JobDefinition]] = {}
    jobs = []
    for row in rows:
        pk = row[0]
        job = fresh.get(pk) if pk in changed else known[pk][1]
        if job is None:
            continue  # removed between the two reads
        built[pk] = (row, job)
        jobs.append(job)
    with _lock:
        _built[fields] = built  # only the current jobs: bounded by the job count
    return jobs


def _build(fields: tuple[str, ...], pks: set[int]) -> dict[int, JobDefinition]:
    jobs = of_these(job_list().only(*fields), "pk", pks)
    return {job.pk: job for job in jobs if job.pk in pks}


def of_these(queryset, field: str, values) -> models.QuerySet:
    """``queryset`` narrowed to ``field`` in ``values``, unless they are many: then all of it
    (the caller keeps the rows it wants; a long IN list cost more than the extra rows)."""
    return (
        queryset.filter(**{f"{field}__in": values}) if len(values) <= READ_ALL_ABOVE else queryset
    )


def next_run_texts() -> dict[str, str | None]:
    """Each stored job's next run time as text (not converted: the change check)."""
    text = Cast("next_run_time", output_field=models.TextField())
    return dict(DjangoJob.objects.values_list("id", text))


def next_run_times_of(job_ids) -> dict[str, tuple[str | None, datetime | None]]:
    """Job id -> (next run time as text, as a datetime) of these jobs, both from one read."""
    wanted = set(job_ids)
    text = Cast("next_run_time", output_field=models.TextField())
    rows = of_these(DjangoJob.objects.all(), "id", wanted).values_list("id", text, "next_run_time")
    return {job_id: (raw, value) for job_id, raw, value in rows if job_id in wanted}


def current_next_run_times() -> dict[str, datetime | None]:
    """``jobs.job_next_run_times()``, converting only the times that changed (two queries
    at most): 5,000 datetimes converted on every render were ~25 ms of the dashboard."""
    texts = next_run_texts()
    with _lock:
        known = dict(_next_runs)
    changed = {
        job_id for job_id, raw in texts.items() if job_id not in known or known[job_id][0] != raw
    }
    current = {job_id: known[job_id] for job_id in texts if job_id not in changed}
    if changed:
        current.update(next_run_times_of(changed))
    with _lock:
        _next_runs.clear()
        _next_runs.update(current)  # only the stored jobs: bounded by the job count
    return {job_id: value for job_id, (_, value) in current.items()}


def forget() -> None:
    """Drop every built row (tests; a new process starts without them)."""
    with _lock:
        _built.clear()
        _next_runs.clear()
