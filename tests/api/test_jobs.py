"""GET /api/v1/scheduler/jobs: every declared job, filters, ordering, plain-text search."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from scheduler_monitor.timestamps import iso_utc
from tests.api.helpers import data_of, error_of

URL = "/api/v1/scheduler/jobs"


def expected_item(job: JobDefinition, *, stuck_runs: list | None = None) -> dict:
    """The list item of a job that is not late (see the overdue tests for late ones)."""
    stored = DjangoJob.objects.filter(id=job.job_id).first()
    interval = job.expected_interval_seconds
    return {
        "job_id": job.job_id,
        "name": job.name,
        "owner": job.owner,
        "category": job.category,
        "description": job.description,
        "callable": job.callable_path,
        "schedule": job.schedule,
        "paused": job.paused,
        "next_run_time": iso_utc(stored.next_run_time) if stored else None,
        "in_job_store": stored is not None,
        "last_status": job.last_status or None,
        "last_run_at": iso_utc(job.last_run_at),
        "last_duration_ms": job.last_duration_ms,
        "success_count": job.success_count,
        "failure_count": job.failure_count,
        "total_runs": job.success_count + job.failure_count,
        "expected_interval_seconds": interval,
        # Default grace: a tenth of the interval, at least a minute.
        "grace_seconds": job.grace_seconds or max(60.0, (interval or 0) / 10),
        "late_seconds": None,
        "overdue": False,
        "stuck_runs": stuck_runs or [],
    }


def test_it_lists_every_declared_job_field_by_field(reader, make_job, record_run, store_job):
    """Each item equals the database row plus the job store's next run time."""
    a = make_job("alpha", category="Billing", description="Charge", callable_path="m.f")
    b = make_job("beta", category="Analytics", paused=True)
    make_job("gone", removed=True)
    record_run(a, duration_ms=120.0)
    record_run(a, status=RunStatus.FAILURE, duration_ms=80.0, error="boom")
    store_job("alpha", seconds=30)
    data = data_of(reader.get(URL))
    jobs = [JobDefinition.objects.get(pk=j.pk) for j in (b, a)]  # category order
    assert data == {"total": 2, "jobs": [expected_item(j) for j in jobs]}
    assert data["jobs"][1]["last_status"] == "failure"
    assert data["jobs"][1]["next_run_time"].endswith("Z")


NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def scheduled(job_id: str, next_run_at: datetime | None) -> None:
    DjangoJob.objects.update_or_create(
        id=job_id, defaults={"next_run_time": next_run_at, "job_state": b""}
    )


def test_it_flags_overdue_jobs_past_their_grace(reader, make_job):
    """Time frozen: 7 min past due with a 6 min grace is overdue; 5 min past due is not."""
    make_job("late", expected_interval_seconds=3600)
    make_job("within", expected_interval_seconds=3600)
    make_job("custom", expected_interval_seconds=3600, grace_seconds=900)
    make_job("paused", expected_interval_seconds=60, paused=True)
    make_job("unknown")  # no interval known: the one-minute minimum
    with time_machine.travel(NOW, tick=False):
        scheduled("late", NOW - timedelta(minutes=7))
        scheduled("within", NOW - timedelta(minutes=5))
        scheduled("custom", NOW - timedelta(minutes=14))
        scheduled("paused", None)
        scheduled("unknown", NOW - timedelta(seconds=61))
        jobs = {j["job_id"]: j for j in data_of(reader.get(URL))["jobs"]}
    picked = {
        job_id: {k: jobs[job_id][k] for k in ("grace_seconds", "late_seconds", "overdue")}
        for job_id in jobs
    }
    assert picked == {
        "late": {"grace_seconds": 360.0, "late_seconds": 420.0, "overdue": True},
        "within": {"grace_seconds": 360.0, "late_seconds": 300.0, "overdue": False},
        "custom": {"grace_seconds": 900.0, "late_seconds": 840.0, "overdue": False},
        "paused": {"grace_seconds": 60.0, "late_seconds": None, "overdue": False},
        "unknown": {"grace_seconds": 60.0, "late_seconds": 61.0, "overdue": True},
    }
    assert jobs["late"]["expected_interval_seconds"] == 3600.0
    assert jobs["unknown"]["expected_interval_seconds"] is None
    assert jobs["late"]["next_run_time"] == "2026-06-15T11:53:00Z"


def test_it_lists_stuck_runs_with_their_limits(reader, make_job, record_run):
    """A run running past its max runtime is listed on its job; a younger one is not."""
    declared = make_job("declared", max_runtime_seconds=600)
    derived = make_job("derived")
    for duration in (1000.0, 2000.0, 3000.0, 4000.0, 5000.0):
        record_run(derived, duration_ms=duration, started_at=NOW - timedelta(hours=2))
    with time_machine.travel(NOW, tick=False):
        old = JobRun.objects.create(
            job=declared,
            status=RunStatus.RUNNING,
            started_at=NOW - timedelta(seconds=601),
            hostname="box",
            pid=7,
        )
        JobRun.objects.create(
            job=declared, status=RunStatus.RUNNING, started_at=NOW - timedelta(seconds=599)
        )
        # p95 of 1..5 s is 4.8 s; five times that is below the 60 s minimum: 60 s.
        slow = JobRun.objects.create(
            job=derived, status=RunStatus.RUNNING, started_at=NOW - timedelta(seconds=61)
        )
        jobs = {j["job_id"]: j for j in data_of(reader.get(URL))["jobs"]}
    assert jobs["declared"]["stuck_runs"] == [
        {
            "run_id": old.pk,
            "job_id": "declared",
            "job_name": declared.name,
            "started_at": "2026-06-15T11:49:59Z",
            "hostname": "box",
            "pid": 7,
            "running_seconds": 601.0,
            "max_runtime_seconds": 600.0,
            "derived_from": "declared",
        }
    ]
    (stuck,) = jobs["derived"]["stuck_runs"]
    assert (stuck["run_id"], stuck["running_seconds"]) == (slow.pk, 61.0)
    assert (stuck["max_runtime_seconds"], stuck["derived_from"]) == (60.0, "p95")


def test_it_filters_by_category_owner_and_last_status(reader, make_job, record_run):
    """category, owner and status narrow the list; combined they intersect."""
    a = make_job("a1", category="X", owner="SRE")
    make_job("a2", category="X", owner="Data")
    c = make_job("a3", category="Y", owner="SRE")
    record_run(a, status=RunStatus.FAILURE)
    record_run(c)
    ids = lambda r: [j["job_id"] for j in data_of(r)["jobs"]]  # noqa: E731
    assert ids(reader.get(URL, {"category": "X"})) == ["a1", "a2"]
    assert ids(reader.get(URL, {"owner": "SRE"})) == ["a1", "a3"]
    assert ids(reader.get(URL, {"status": "failure"})) == ["a1"]
    assert ids(reader.get(URL, {"category": "X", "owner": "SRE"})) == ["a1"]
    assert ids(reader.get(URL, {"category": "nope"})) == []


def test_it_searches_id_name_and_owner_as_plain_text(reader, make_job):
    """q matches case-insensitively; quotes, %, _ and SQL fragments are literal text."""
    make_job("calc_health", name="计算项目健康度", owner="Backend")
    make_job("pct", name="100% done", owner="O'Brien")
    make_job("under_score", name="plain", owner="Data")
    ids = lambda q: [j["job_id"] for j in data_of(reader.get(URL, {"q": q}))["jobs"]]  # noqa: E731
    assert ids("HEALTH") == ["calc_health"]
    assert ids("健康") == ["calc_health"]
    assert ids("%") == ["pct"]
    assert ids("o'brien") == ["pct"]
    assert ids("_") == ["calc_health", "under_score"]
    assert ids("' OR 1=1 --") == []
    assert ids("backend") == ["calc_health"]


def test_it_returns_names_with_quotes_and_sql_verbatim(reader, make_job):
    """Names are data: quotes, percent signs, SQL and Chinese come back unchanged."""
    name = '\'; DROP TABLE scheduler_monitor_jobrun; -- 100% "x" 计算'
    make_job("odd", name=name, owner="O'Brien")
    (job,) = data_of(reader.get(URL, {"q": "DROP TABLE"}))["jobs"]
    assert (job["name"], job["owner"]) == (name, "O'Brien")


@pytest.mark.parametrize(
    "ordering,expected",
    [
        ("job_id", ["a", "b", "c"]),
        ("-job_id", ["c", "b", "a"]),
        ("last_duration_ms", ["b", "a", "c"]),
        ("-last_duration_ms", ["a", "b", "c"]),
        ("-last_run_at", ["b", "a", "c"]),
    ],
)
def test_it_orders_with_nulls_last(reader, make_job, record_run, ordering, expected):
    """ordering sorts ascending or descending, jobs without a value always last."""
    a, b, _ = make_job("a"), make_job("b"), make_job("c")
    now = timezone.now()
    record_run(a, duration_ms=300.0, started_at=now - timedelta(minutes=5))
    record_run(b, duration_ms=100.0, started_at=now - timedelta(minutes=1))
    data = data_of(reader.get(URL, {"ordering": ordering}))
    assert [j["job_id"] for j in data["jobs"]] == expected


@pytest.mark.parametrize(
    "params,field",
    [
        ({"status": "exploded"}, "status"),
        ({"ordering": "password"}, "ordering"),
        ({"ordering": "-"}, "ordering"),
        ({"q": "x" * 201}, "q"),
        ({"category": "a\x00b"}, "category"),
    ],
)
def test_it_rejects_bad_filters_naming_the_field(reader, make_job, params, field):
    """A bad filter is a 400 whose message and data name the field."""
    make_job()
    payload = error_of(reader.get(URL, params), 400)
    assert payload["data"]["field"] == field
    assert payload["message"].startswith(f"{field}: ")
    assert field in payload["data"]["errors"]


def test_it_refuses_other_methods(writer):
    """POST on the list is a 405 in the envelope."""
    payload = error_of(writer.post(URL, {}, format="json"), 405)
    assert "POST" in payload["message"]
