"""/metrics under several gunicorn workers with PROMETHEUS_MULTIPROC_DIR."""

import pytest

from scheduler_monitor.models import JobDefinition
from tests.live_app import gunicorn_app, http_get
from tests.prometheus_parse import parse, sample

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCRAPES = 30


def test_it_serves_the_scheduler_families_from_every_worker(make_job, record_run, tmp_path):
    """Every scrape, whichever worker answers, has the scheduler families and the
    django-prometheus counters summed over all workers, dead ones included."""
    job = make_job("multi", name="Multi worker job")
    for duration in (10, 20, 30):
        record_run(job, duration_ms=duration)
    record_run(job, duration_ms=40, status="failure")
    expected = JobDefinition.objects.get(pk=job.pk)
    multiproc_dir = tmp_path / "prometheus-multiproc"
    multiproc_dir.mkdir()
    access_log = tmp_path / "access.log"
    # Workers are recycled every 4 requests, so the scrapes are answered by many processes.
    args = ["--max-requests", "4", "--access-logfile", str(access_log)]
    args += ["--access-logformat", "%(p)s %(U)s"]
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    with gunicorn_app(workers=2, env=env, extra_args=args) as base:
        answers = [http_get(f"{base}/metrics") for _ in range(SCRAPES)]
    responses_seen = []
    for status, body in answers:
        assert status == 200
        families = parse(body)
        assert sample(families, "scheduler_job_success_total", job_id="multi") == (
            expected.success_count
        )
        assert sample(families, "scheduler_job_failure_total", job_id="multi") == (
            expected.failure_count
        )
        assert sample(families, "scheduler_job_duration_seconds_count", job_id="multi") == 4
        responses_seen.append(
            sample(
                families,
                "django_http_responses_total_by_status_total",
                status="200",
            )
            or 0
        )
    # Counted by whichever worker served each scrape, yet summed: it only ever grows.
    assert responses_seen == sorted(responses_seen)
    assert responses_seen[-1] >= SCRAPES - 1
    served_by = {
        line.split()[0] for line in access_log.read_text().splitlines() if "/metrics" in line
    }
    assert len(served_by) >= 3, served_by
