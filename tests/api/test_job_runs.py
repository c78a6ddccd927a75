"""GET /api/v1/scheduler/jobs/{job_id}/runs: paginated history with filters."""

from datetime import UTC, datetime, timedelta

import pytest

from scheduler_monitor.models import JobRun, RunStatus, RunTrigger
from tests.api.helpers import data_of, error_of

URL = "/api/v1/scheduler/jobs/hist/runs"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def history(make_job, record_run):
    """Ten runs of 'hist' a minute apart (every third a failure, the last two manual)."""
    job = make_job("hist")
    other = make_job("other")
    for i in range(10):
        record_run(
            job,
            status=RunStatus.FAILURE if i % 3 == 0 else RunStatus.SUCCESS,
            trigger=RunTrigger.MANUAL if i >= 8 else RunTrigger.SCHEDULED,
            duration_ms=10.0 + i,
            started_at=T0 + timedelta(minutes=i),
        )
    record_run(other, started_at=T0)
    return job


def ids(queryset):
    return [run.pk for run in queryset]


def test_it_pages_newest_first(reader, history):
    """Pages hold page_size runs newest first, with count, pages and links."""
    runs = ids(JobRun.objects.filter(job=history).order_by("-started_at"))
    first = data_of(reader.get(URL, {"page_size": 4}))
    assert (first["count"], first["page"], first["page_size"], first["pages"]) == (10, 1, 4, 3)
    assert [r["id"] for r in first["runs"]] == runs[:4]
    assert first["previous"] is None
    assert first["next"].endswith("/api/v1/scheduler/jobs/hist/runs?page_size=4&page=2")
    last = data_of(reader.get(URL, {"page_size": 4, "page": 3}))
    assert [r["id"] for r in last["runs"]] == runs[8:]
    assert last["next"] is None and "page=2" in last["previous"]


def test_it_filters_by_status_trigger_and_time(reader, history):
    """status, trigger, since (inclusive) and until (exclusive) filter the runs."""
    base = JobRun.objects.filter(job=history).order_by("-started_at")

    def got(**params):
        return [r["id"] for r in data_of(reader.get(URL, params))["runs"]]

    assert got(status="failure") == ids(base.filter(status="failure"))
    assert got(trigger="manual") == ids(base.filter(trigger="manual"))
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)
    expected = ids(base.filter(started_at__gte=since, started_at__lt=until))
    assert len(expected) == 3
    assert got(since="2026-03-01T12:02:00Z", until="2026-03-01T12:05:00Z") == expected
    # A naive time is UTC; an offset is honoured.
    assert got(since="2026-03-01T12:02:00", until="2026-03-01T13:05:00+01:00") == expected
    # A reversed range is simply empty.
    assert got(since="2026-03-01T12:05:00Z", until="2026-03-01T12:02:00Z") == []


def test_it_returns_an_empty_first_page_for_a_job_without_runs(reader, make_job):
    """No runs is page 1 of 1 with nothing on it."""
    make_job("idle")
    data = data_of(reader.get("/api/v1/scheduler/jobs/idle/runs"))
    assert data == {
        "count": 0,
        "page": 1,
        "page_size": 50,
        "pages": 1,
        "next": None,
        "previous": None,
        "runs": [],
    }


@pytest.mark.parametrize(
    "params,field",
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"status": "great"}, "status"),
        ({"trigger": "cron"}, "trigger"),
        ({"page": "two"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "99999999999999999999"}, "page"),
        ({"page_size": "501"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "1e3"}, "page_size"),
        ({"status": ""}, "status"),
    ],
)
def test_it_rejects_bad_parameters_naming_the_field(reader, history, params, field):
    """Malformed or out-of-range parameters are a 400 naming the field."""
    payload = error_of(reader.get(URL, params), 400)
    assert payload["data"]["field"] == field


def test_it_caps_page_size_at_500(reader, history):
    """page_size=500 is accepted."""
    assert data_of(reader.get(URL, {"page_size": 500}))["page_size"] == 500


def test_it_answers_404_past_the_last_page_and_for_unknown_jobs(reader, history):
    """A page after the last one and an unknown job are 404s."""
    assert error_of(reader.get(URL, {"page": 2}), 404)["data"] == {"field": "page"}
    assert error_of(reader.get("/api/v1/scheduler/jobs/nope/runs"), 404)["data"]["field"] == (
        "job_id"
    )
