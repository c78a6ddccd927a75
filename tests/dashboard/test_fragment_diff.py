"""The dashboard refresh sends what changed: 304 when nothing did, else the changed rows."""

from scheduler_monitor.models import JobDefinition

from .html import parse

URL = "/scheduler-monitoring/fragments"


def known_from(page) -> str:
    """The X-SM-Known header the page script builds from what it shows."""
    items = [
        f"{el.attrs['id']}={el.attrs['data-digest']}"
        for el in page.iter()
        if "data-fragment" in el.attrs and "data-digest" in el.attrs
    ]
    items += [
        f"row:{el.attrs['data-job-id']}={el.attrs['data-digest']}"
        for el in page.find_all("tr", class_="sm-row")
        if "data-digest" in el.attrs
    ]
    return " ".join(items)


def test_nothing_changed_is_a_304_for_the_etag(staff_client, make_job, record_run):
    for _ in range(20):
        record_run(make_job())
    first = staff_client.get(URL)
    assert first.status_code == 200 and first["ETag"]
    again = staff_client.get(URL, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_a_new_run_changes_the_etag(staff_client, make_job, record_run):
    job = make_job()
    record_run(job)
    first = staff_client.get(URL)
    record_run(job, status="failure")
    again = staff_client.get(URL, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]


def test_only_the_changed_rows_and_fragments_are_sent(staff_client, make_job, record_run):
    jobs = [make_job(f"job_{i:03}") for i in range(200)]
    for job in jobs:
        record_run(job)
    full = staff_client.get(URL)
    known = known_from(parse(full.content))
    record_run(jobs[7], duration_ms=999.0)
    record_run(jobs[150], duration_ms=999.0)
    delta = staff_client.get(URL, headers={"X-SM-Known": known})
    page = parse(delta.content)
    sent = [
        r.attrs["data-job-id"]
        for r in page.find_all("tr", class_="sm-row")
        if "data-unchanged" not in r.attrs
    ]
    assert sorted(sent) == ["job_007", "job_150"]
    # Every row is still listed, in order, so the page keeps the rest as they are.
    listed = [r.attrs["data-job-id"] for r in page.find_all("tr", class_="sm-row")]
    assert listed == [
        r.attrs["data-job-id"] for r in parse(full.content).find_all("tr", class_="sm-row")
    ]
    assert len(delta.content) < 0.15 * len(full.content)


def test_a_client_without_digests_gets_every_fragment(staff_client, make_job, record_run):
    record_run(make_job())
    page = parse(staff_client.get(URL).content)
    ids = {el.attrs["id"] for el in page.iter() if "data-fragment" in el.attrs}
    assert {"sm-alerts", "sm-status", "sm-cards", "sm-jobs", "sm-heatmap-hour"} <= ids
    assert not [el for el in page.iter() if "data-unchanged" in el.attrs]
    assert JobDefinition.objects.count() == 1
