"""The admin's run list: filters that stay cheap on a large history."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduler_monitor.models import RunStatus


def test_it_lists_runs_with_a_date_filter_in_a_fixed_number_of_queries(
    admin_client, make_job, record_run
):
    """The run list shows the runs and a started_at filter; its queries do not grow."""
    job = make_job("nightly_report", name="Nightly report")
    record_run(job, status=RunStatus.FAILURE, duration_ms=12)
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/admin/scheduler_monitor/jobrun/")
    for _ in range(30):
        record_run(job, duration_ms=5)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get("/admin/scheduler_monitor/jobrun/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Nightly report" in body
    assert body.count('class="field-status_badge"') == 31
    assert "started_at__gte=" in body  # the date filter's choices
    assert len(many) == len(few)
    assert not any("django_datetime_trunc" in q["sql"] for q in many.captured_queries)


def test_it_lists_scheduler_events_read_only(admin_client, db):
    from datetime import timedelta

    from django.utils import timezone

    from scheduler_monitor.scheduler_events import database_outage_record

    now = timezone.now()
    database_outage_record(started_at=now - timedelta(seconds=20), ended_at=now, pid=3)
    response = admin_client.get("/admin/scheduler_monitor/schedulerevent/")
    assert response.status_code == 200
    assert b"Could not reach the database from" in response.content
    assert admin_client.get("/admin/scheduler_monitor/schedulerevent/add/").status_code == 403
