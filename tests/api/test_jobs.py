"""GET /api/v1/scheduler/jobs: every declared job, filters, ordering, plain-text search."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor.models import JobDefinition, RunStatus
from scheduler_monitor.selectors import iso_utc
from tests.api.helpers import data_of, error_of

URL = "/api/v1/scheduler/jobs"


def expected_item(job: JobDefinition) -> dict:
    stored = DjangoJob.objects.filter(id=job.job_id).first()
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
