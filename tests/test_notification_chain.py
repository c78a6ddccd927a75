"""The notification chain: the notification job and its gateway timings."""

import math
import statistics
from datetime import timedelta

from django.utils import timezone

from scheduler_monitor import notification_chain, runs


def test_it_summarises_the_gateway_measurement_of_recent_runs(make_job, record_run):
    """Only runs that measured the gateway count; the oldest fall out past the limit."""
    job = make_job()
    values = [10.0, 20.0, 30.0, 400.0]
    for minutes, value in enumerate(values):
        record_run(
            job,
            started_at=timezone.now() - timedelta(minutes=10 - minutes),
            measurements={"gateway_response_ms": value},
        )
    record_run(job, measurements={"other": 1.0})
    stats = runs.measurement_statistics(job=job, name="gateway_response_ms")
    assert stats.sample_count == 4
    assert stats.avg_duration_ms == statistics.fmean(values)
    p95 = statistics.quantiles(values, n=100, method="inclusive")[94]
    assert math.isclose(stats.p95_duration_ms, p95)
    last_two = runs.measurement_statistics(job=job, name="gateway_response_ms", limit=3)
    assert last_two.sample_count == 2  # the newest run has no gateway value


def test_it_reports_a_missing_notification_job(db):
    """An unknown job id gives an empty chain, not an error."""
    chain = notification_chain.notification_chain(job_id="nope")
    assert chain.job is None
    assert chain.success_rate is None
    assert chain.gateway.sample_count == 0
