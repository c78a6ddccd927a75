"""Shared fixtures: fresh per-process state, job factories, recorded runs."""

import importlib
import itertools
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.core.signals import request_started
from django.utils import timezone, translation

from scheduler_monitor import exposition_cache, failure_ratio_counts, hourly_counts, job_rows
from scheduler_monitor.failure_counts import reset_failure_memo
from scheduler_monitor.models import JobDefinition, RunStatus, RunTrigger
from scheduler_monitor.recording import FinishedRun, get_recorder, reset_recorder
from scheduler_monitor.registry import load_declarations, registry
from scheduler_monitor.window import reset_window
from tests.run_history import history  # noqa: F401  (a fixture of the retention tests)

_job_numbers = itertools.count(1)

# Never the scheduler-down watch thread in the test process: it would write outside the
# tests' transactions. Disconnected at import, before test modules that serve requests while
# they are collected. The watch is tested in real web processes (test_scheduler_down_watch.py).
request_started.disconnect(dispatch_uid="scheduler_monitor_down_watch")


@pytest.fixture(autouse=True, scope="session")
def declared_jobs():
    """Import the project's job declarations once, as the scheduler does at start."""
    return load_declarations()


@pytest.fixture(autouse=True)
def fresh_process_state(declared_jobs):
    """Give each test a new window, recorder, memo and registry, as a new process would."""
    saved = {spec.job_id: spec for spec in registry.all()}
    # A request with Accept-Language activates its language in this thread, for good.
    translation.activate(settings.LANGUAGE_CODE)
    reset_window()
    reset_recorder()
    reset_failure_memo()
    exposition_cache.reset()
    hourly_counts.reset()
    job_rows.forget()
    failure_ratio_counts.reset()
    yield
    reset_window()
    reset_recorder()
    reset_failure_memo()
    exposition_cache.reset()
    hourly_counts.reset()
    job_rows.forget()
    failure_ratio_counts.reset()
    registry.clear()
    for spec in saved.values():
        registry.register(spec)


@pytest.fixture
def only_fast_jobs():
    """Declare tests.fast_jobs only, as a scheduler whose JOB_MODULES lists just that would.

    Reloaded, not imported: an earlier test may have imported it while the registry it
    registered into was then reset.
    """
    from tests import fast_jobs

    registry.clear()
    importlib.reload(fast_jobs)


@pytest.fixture
def make_job(db):
    """Create a JobDefinition; keyword arguments override the defaults."""

    def make(job_id: str | None = None, **fields) -> JobDefinition:
        number = next(_job_numbers)
        job_id = job_id or f"job_{number}"
        defaults = {
            "name": f"Job {number}",
            "owner": "Team A",
            "category": "General",
            "schedule": "every 1min",
        }
        defaults.update(fields)
        return JobDefinition.objects.create(job_id=job_id, **defaults)

    return make


@pytest.fixture
def record_run(db):
    """Record one finished run through the real write path; returns the run id."""

    def record(
        job: JobDefinition | str,
        *,
        status: str = RunStatus.SUCCESS,
        duration_ms: float | None = 100.0,
        started_at: datetime | None = None,
        error: str = "",
        trigger: str = RunTrigger.SCHEDULED,
        measurements: dict | None = None,
    ) -> int | None:
        job_id = job if isinstance(job, str) else job.job_id
        started_at = started_at or timezone.now()
        finished_at = started_at + timedelta(milliseconds=duration_ms or 0)
        return get_recorder().write(
            FinishedRun(
                job_id=job_id,
                status=status,
                trigger=trigger,
                scheduled_at=started_at,
                started_at=started_at if status != RunStatus.MISSED else None,
                finished_at=finished_at,
                duration_ms=duration_ms,
                error=error,
                measurements=measurements or {},
            )
        )

    return record


@pytest.fixture(params=["none", "million runs", "million runs, taken before 0007"])
def planner_statistics(request, db):
    """Run a SQLite plan test without ANALYZE statistics and with a large table's.

    The last set lacks the index migration 0007 added, as on a database analysed before it.
    """
    from django.db import connection

    from tests.sqlite_plans import MILLION_RUN_STATISTICS, load_statistics

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner choice")
    if request.param == "million runs":
        load_statistics(MILLION_RUN_STATISTICS)
    elif request.param == "million runs, taken before 0007":
        load_statistics([row for row in MILLION_RUN_STATISTICS if "status" not in row[1]])
    return request.param
