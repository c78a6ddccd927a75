"""The job table: broken jobs first; beyond a few hundred jobs, pages that search covers."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_monitor.dashboard import job_table
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus

from .html import parse

URL = "/scheduler-monitoring"


def shown_ids(response) -> list[str]:
    rows = parse(response.content).by_id("sm-job-table").find_all("tr", class_="sm-row")
    return [r.attrs["data-job-id"] for r in rows if "hidden" not in r.attrs]


def test_it_lists_failing_then_stuck_then_overdue_then_the_rest(staff_client, make_job, record_run):
    now = timezone.now()
    fine, overdue, stuck, failing = (
        make_job(job_id, expected_interval_seconds=600)
        for job_id in ("a_fine", "b_overdue", "c_stuck", "d_failing")
    )
    record_run(fine)
    record_run(failing, status=RunStatus.FAILURE)
    DjangoJob.objects.create(
        id=overdue.job_id, next_run_time=now - timedelta(hours=1), job_state=b""
    )
    JobRun.objects.create(job=stuck, status="running", started_at=now - timedelta(hours=3))
    assert shown_ids(staff_client.get(URL)) == ["d_failing", "c_stuck", "b_overdue", "a_fine"]


@pytest.fixture
def many_jobs(db):
    count = job_table.PAGED_BEYOND + 50
    JobDefinition.objects.bulk_create(
        JobDefinition(
            job_id=f"bulk_{i:04d}",
            name=f"Bulk {i}",
            owner="Ops" if i != 333 else "Needle team",
            category=f"Cat {i % 3}",
            last_status="failure" if i == 349 else "success",
        )
        for i in range(count)
    )
    return count


def test_beyond_a_few_hundred_jobs_it_shows_a_page_broken_first(staff_client, many_jobs):
    response = staff_client.get(URL)
    ids = shown_ids(response)
    assert len(ids) == job_table.PAGE_SIZE
    assert ids[0] == "bulk_0349"  # the failing one, though last by id
    pager = parse(response.content).by_id("sm-pager")
    assert f"of {many_jobs} matching" in pager.text
    second = shown_ids(staff_client.get(URL + "?jobs_page=2"))
    assert len(second) == job_table.PAGE_SIZE and not set(ids) & set(second)


@pytest.mark.parametrize(
    ("query", "expected"),
    [("?q=needle", ["bulk_0333"]), ("?q=bulk_0349", ["bulk_0349"])],
)
def test_search_covers_every_job_not_only_the_page(staff_client, many_jobs, query, expected):
    assert shown_ids(staff_client.get(URL + query)) == expected


def test_a_category_filter_pages_over_that_category_only(staff_client, many_jobs):
    ids = shown_ids(staff_client.get(URL + "?category=Cat+1&jobs_page=2"))
    assert ids and all(int(i.split("_")[1]) % 3 == 1 for i in ids)


def test_a_page_number_out_of_range_shows_the_last_page(staff_client, many_jobs):
    response = staff_client.get(URL + "?jobs_page=999")
    assert response.status_code == 200
    assert len(shown_ids(response)) == many_jobs - 3 * job_table.PAGE_SIZE
