"""The cached scheduler exposition is byte for byte prometheus_client's generate_latest."""

import gzip
import random
import zlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_apscheduler.models import DjangoJob
from prometheus_client import generate_latest
from prometheus_client.exposition import choose_encoder

from scheduler_monitor import exposition_cache
from scheduler_monitor.exposition import SchedulerCollector
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def change_something(rng: random.Random, jobs: list[JobDefinition], record_run, make_job) -> str:
    """One random change of the kind a live system sees between two scrapes."""
    job = rng.choice(jobs)
    kind = rng.choice(
        ["success", "failure", "pause", "next_run", "running", "rename", "new_job", "removed"]
    )
    if kind in ("success", "failure"):
        record_run(job, status=kind, duration_ms=rng.lognormvariate(5, 1))
    elif kind == "pause":
        JobDefinition.objects.filter(pk=job.pk).update(paused=not job.paused)
    elif kind == "next_run":
        DjangoJob.objects.update_or_create(
            id=job.job_id,
            defaults={
                "next_run_time": NOW + timedelta(minutes=rng.randint(-30, 30)),
                "job_state": b"",
            },
        )
    elif kind == "running":
        JobRun.objects.create(job=job, status=RunStatus.RUNNING, started_at=NOW)
    elif kind == "rename":  # label values that need escaping
        JobDefinition.objects.filter(pk=job.pk).update(name=f'Job "{rng.random()}" \\ 名\nx')
    elif kind == "new_job":
        jobs.append(make_job(expected_interval_seconds=rng.choice([None, 60, 600])))
    else:
        JobDefinition.objects.filter(pk=job.pk).update(removed=True)
    return kind


OPENMETRICS = choose_encoder("application/openmetrics-text;version=1.0.0")[0]


@pytest.mark.parametrize(
    ("brief", "encoder"),
    [(True, generate_latest), (False, generate_latest), (True, OPENMETRICS)],
    ids=["text", "text, brief families off", "OpenMetrics"],
)
def test_it_equals_generate_latest_byte_for_byte_after_random_changes(
    brief, encoder, clock, make_job, record_run
):
    rng = random.Random(16)
    jobs = [make_job(expected_interval_seconds=60) for _ in range(12)]
    for job in jobs[:8]:
        record_run(job, duration_ms=rng.lognormvariate(5, 1))
    collector = SchedulerCollector(brief=brief)
    for round_number in range(40):
        kinds = [
            change_something(rng, jobs, record_run, make_job) for _ in range(rng.randint(0, 3))
        ]
        if round_number % 7 == 3:
            clock.shift(timedelta(minutes=5))  # overdue flips with time alone
        expected = encoder(collector)
        got = exposition_cache.scheduler_text(collector, encoder)
        assert got == expected, (round_number, kinds)


def test_an_unchanged_job_is_not_rendered_again(clock, make_job, record_run, monkeypatch):
    jobs = [make_job() for _ in range(5)]
    for job in jobs:
        record_run(job)
    collector = SchedulerCollector()
    exposition_cache.scheduler_text(collector)
    rendered = []
    add_job = collector._add_job
    monkeypatch.setattr(
        collector,
        "_add_job",
        lambda families, job, bounds: rendered.append(job.job_id) or add_job(families, job, bounds),
    )
    exposition_cache.scheduler_text(collector)
    assert rendered == []
    record_run(jobs[2])
    assert exposition_cache.scheduler_text(collector) == generate_latest(SchedulerCollector())
    assert rendered == [jobs[2].job_id]


def gzip_members(data: bytes) -> list[bytes]:
    """Each gzip member of ``data`` decompressed, read one member at a time as zlib does."""
    members = []
    while data:
        reader = zlib.decompressobj(wbits=31)
        members.append(reader.decompress(data))
        assert reader.eof, "a gzip member is cut short"
        data = reader.unused_data
    return members


def test_the_gzipped_body_is_the_body_in_gzip_members_one_per_segment(clock, make_job, record_run):
    """Gzipped segments joined are a valid gzip stream: Python's and zlib's readers agree."""
    jobs = [make_job() for _ in range(150)]  # several segments a family
    for job in jobs[::3]:
        record_run(job)
    segments = exposition_cache.scheduler_segments()
    compressed = exposition_cache.gzipped(segments)
    assert gzip.decompress(compressed) == b"".join(segments)
    assert gzip_members(compressed) == [segment for segment in segments if segment]
    record_run(jobs[1])
    again = exposition_cache.scheduler_segments()
    assert gzip.decompress(exposition_cache.gzipped(again)) == generate_latest(SchedulerCollector())


@pytest.mark.parametrize("accept", ["text/plain", "application/openmetrics-text;version=1.0.0"])
def test_the_scrape_view_serves_the_encoders_bytes_gzipped(clock, admin_client, make_job, accept):
    """As Prometheus asks: its Accept and gzip; decompressed, exactly the encoder's output."""
    for _ in range(70):
        make_job()
    encoder = choose_encoder(accept)[0]
    for _ in range(2):  # rendered, then reused
        response = admin_client.get(
            "/api/v1/scheduler/metrics/prometheus",
            headers={"Accept": accept, "Accept-Encoding": "gzip"},
        )
        assert response["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.content) == encoder(SchedulerCollector())
