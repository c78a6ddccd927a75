"""The heatmaps as the dashboard shows them: capped to the jobs with the most failures at
scale, one category or everything a link away (scheduler_monitor/dashboard/heatmap_view.py).
"""

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory
from django.utils import timezone

from scheduler_monitor import heatmaps
from scheduler_monitor.dashboard.heatmap_view import (
    TOP_JOBS,
    TOP_ROWS,
    heat_focus,
    heatmap_view,
)
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from tests.dashboard.html import parse

URL = "/scheduler-monitoring"
HOUR = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def focus(query=""):
    return heat_focus(RequestFactory().get(URL + query))


def synthetic(per_category: dict[str, dict[str, int]]) -> heatmaps.FailureHeatmap:
    """A two-hour heatmap whose categories hold these jobs' failure counts (all in hour 2)."""
    rows = []
    for category, failures in sorted(per_category.items()):
        ranked = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
        jobs = [{"job_id": j, "job_name": j, "failures": n} for j, n in ranked if n]
        total = sum(failures.values())
        rows.append(
            heatmaps.HeatmapRow(category=category, counts=[0, total], total=total, jobs=jobs)
        )
    return heatmaps.FailureHeatmap(
        bucket="hour",
        buckets=[HOUR, HOUR + timedelta(hours=1)],
        rows=rows,
        max_count=max((r.total for r in rows), default=0),
        alarm_threshold=5,
    )


def many_failing_jobs(seed=3, categories=7, jobs=400):
    """``jobs`` failing jobs with random counts (distinct job ids) over some categories."""
    rng = random.Random(seed)
    data: dict[str, dict[str, int]] = {f"C{i}": {} for i in range(categories)}
    for i in range(jobs):
        data[f"C{rng.randrange(categories)}"][f"job_{i:04d}"] = rng.randrange(1, 40)
    return data


def listed(view) -> dict[str, int]:
    return {job["job_id"]: job["failures"] for row in view["rows"] for job in row["jobs"]}


def test_the_capped_heatmap_lists_the_jobs_with_the_most_failures_and_counts_the_rest():
    """The top TOP_JOBS jobs by failures (ties by id) are listed; every other one is counted."""
    data = many_failing_jobs()
    every = {job: n for jobs in data.values() for job, n in jobs.items()}
    view = heatmap_view(synthetic(data), focus())
    expected = sorted(every.items(), key=lambda item: (-item[1], item[0]))[:TOP_JOBS]
    assert listed(view) == dict(expected)
    assert view["capped"] and view["failing_jobs"] == len(every)
    assert view["hidden_jobs"] == len(every) - TOP_JOBS
    for row in view["rows"]:
        in_category = data[row["category"]]
        assert row["hidden_jobs"] == len(in_category) - len(row["jobs"])
        # Each row still lists its own jobs most failures first.
        counts = [job["failures"] for job in row["jobs"]]
        assert counts == sorted(counts, reverse=True)
        # Cells and totals are those of every job, listed or not.
        assert row["total"] == sum(in_category.values())
        assert [c["count"] for c in row["cells"]] == [0, row["total"]]


def test_a_rows_more_link_opens_its_category_with_every_failing_job():
    """``+ N more`` links to ?heat_category=<name>, which lists all of that category's jobs."""
    data = many_failing_jobs()
    view = heatmap_view(synthetic(data), focus("?q=bulk&refresh=0"))
    row = next(r for r in view["rows"] if r["hidden_jobs"])
    query = parse_qs(urlsplit(row["more_url"]).query)
    assert query == {
        "heat_category": [row["category"]],
        "tab": ["heatmap"],
        "q": ["bulk"],  # the job table's search and the refresh choice are kept
        "refresh": ["0"],
    }
    focused = heatmap_view(synthetic(data), focus("?" + urlsplit(row["more_url"]).query))
    assert [r["category"] for r in focused["rows"]] == [row["category"]]
    assert listed(focused) == data[row["category"]]
    assert focused["focus_category"] == row["category"] and not focused["capped"]


def test_show_all_lists_every_failing_job_like_the_uncapped_heatmap():
    data = many_failing_jobs()
    view = heatmap_view(synthetic(data), focus("?heat=all"))
    assert listed(view) == {job: n for jobs in data.values() for job, n in jobs.items()}
    assert not view["capped"] and view["hidden_jobs"] == 0
    assert parse_qs(urlsplit(view["top_url"]).query) == {"tab": ["heatmap"]}


def test_a_small_heatmap_is_not_capped():
    """Up to TOP_JOBS failing jobs and TOP_ROWS categories everything is listed."""
    data = {"A": {"a1": 3, "a2": 1}, "B": {"b1": 0}}
    view = heatmap_view(synthetic(data), focus())
    assert listed(view) == {"a1": 3, "a2": 1}
    assert not view["capped"] and [r["more_url"] for r in view["rows"]] == ["", ""]


def test_beyond_top_rows_the_categories_without_failures_go_first():
    """Of TOP_ROWS + 20 categories, the quiet ones are left out and counted, in name order."""
    data = {f"quiet {i:02d}": {f"q{i}": 0} for i in range(30)}
    data |= {f"loud {i:02d}": {f"l{i}": i + 1} for i in range(TOP_ROWS - 10)}
    view = heatmap_view(synthetic(data), focus())
    names = [r["category"] for r in view["rows"]]
    assert len(names) == TOP_ROWS and names == sorted(names)
    assert all(name.startswith("loud") for name in names[: TOP_ROWS - 10])
    assert (view["hidden_rows"], view["hidden_quiet_rows"]) == (20, 20)
    assert view["alarm_cells"] == sum(1 for i in range(TOP_ROWS - 10) if i + 1 >= 5)


def test_the_jobs_without_a_category_are_reached_through_show_all():
    """``heat_category=`` (empty) means every category, so the (none) row links to ?heat=all."""
    data = {"": {f"n{i:03d}": 2 for i in range(TOP_JOBS + 5)}}
    view = heatmap_view(synthetic(data), focus())
    (row,) = view["rows"]
    assert row["hidden_jobs"] == 5
    assert parse_qs(urlsplit(row["more_url"]).query) == {"heat": ["all"], "tab": ["heatmap"]}
    assert focus("?heat_category=").category is None


@pytest.mark.parametrize(
    ("query", "show_all", "category", "range_"),
    [
        ("", False, None, "hour"),
        ("?heat=all&heat_range=day", True, None, "day"),
        ("?heat=ALL&heat_range=week", False, None, "hour"),
        ("?heat_category=Billing%20%26%20co", False, "Billing & co", "hour"),
    ],
)
def test_it_reads_the_heatmap_parameters(query, show_all, category, range_):
    f = focus(query)
    assert (f.show_all, f.category, f.range) == (show_all, category, range_)


# --- the page ---------------------------------------------------------------------------


def failing_jobs(count, category="Bulk"):
    """``count`` jobs, job i with i + 1 failed runs in the last hour (one query each kind)."""
    JobDefinition.objects.bulk_create(
        JobDefinition(job_id=f"bulk_{i:03d}", name=f"Bulk {i}", category=category)
        for i in range(count)
    )
    now = timezone.now() - timedelta(minutes=30)
    by_id = dict(JobDefinition.objects.values_list("job_id", "pk"))
    JobRun.objects.bulk_create(
        JobRun(
            job_id=by_id[f"bulk_{i:03d}"],
            status=RunStatus.FAILURE,
            started_at=now,
            finished_at=now,
            duration_ms=1.0,
            recorded_at=now,
        )
        for i in range(count)
        for _ in range(i + 1)
    )


def page_links(client, query=""):
    page = parse(client.get(URL + query).content)
    heatmap = page.by_id("sm-heatmap-hour")
    links = {
        a.attrs["data-job-id"]: int(a.attrs["data-failures"])
        for a in heatmap.find_all("a")
        if "data-job-id" in a.attrs
    }
    return page, heatmap, links


def test_the_page_lists_the_top_failing_jobs_and_reaches_the_rest(staff_client):
    """TOP_JOBS + 30 failing jobs: the page lists the worst TOP_JOBS, says 30 more, links on."""
    failing_jobs(TOP_JOBS + 30)
    page, heatmap, links = page_links(staff_client)
    worst = {f"bulk_{i:03d}": i + 1 for i in range(30, TOP_JOBS + 30)}
    assert links == worst
    (note,) = heatmap.find_all("p", class_="sm-heat-note")
    assert note.attrs["data-hidden-jobs"] == "30"
    assert "30 jobs with fewer failures are not listed" in note.text
    (more,) = heatmap.find_all("a", class_="sm-heat-more")
    assert more.attrs["data-hidden-jobs"] == "30" and "+ 30 more failing jobs" in more.text
    assert more.attrs["href"] == "?tab=heatmap&heat_category=Bulk"
    # The category's own view and "show all" list every failing job.
    every = {f"bulk_{i:03d}": i + 1 for i in range(TOP_JOBS + 30)}
    assert page_links(staff_client, more.attrs["href"])[2] == every
    (show_all,) = heatmap.find_all("a", class_="sm-heat-all")
    assert page_links(staff_client, show_all.attrs["href"])[2] == every


def test_the_page_opens_the_range_and_category_it_is_asked_for(staff_client):
    failing_jobs(3)
    page = parse(staff_client.get(URL + "?tab=heatmap&heat_range=day&heat_category=Bulk").content)
    assert "hidden" in page.by_id("sm-heatmap-hour").attrs
    assert "hidden" not in page.by_id("sm-heatmap-day").attrs
    (selected,) = [
        o for o in page.by_id("sm-heat-category").find_all("option") if "selected" in o.attrs
    ]
    assert selected.attrs["value"] == "Bulk"
    note = page.by_id("sm-heatmap-day").find_all("p", class_="sm-heat-note")[0]
    assert note.attrs["data-heat-focus"] == "Bulk"


def test_the_cap_reads_in_simplified_chinese(staff_client):
    failing_jobs(TOP_JOBS + 2)
    html = staff_client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    heatmap = parse(html).by_id("sm-heatmap-hour")
    assert "另有 2 个失败较少的任务未列出。" in heatmap.find_all("p", class_="sm-heat-note")[0].text
    assert heatmap.find_all("a", class_="sm-heat-more")[0].text == "+ 另有 2 个失败任务"
