"""The cached scheduler exposition is byte for byte prometheus_client's generate_latest."""

import gzip
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_apscheduler.models import DjangoJob
from prometheus_client import generate_latest

from scheduler_monitor import exposition_cache
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus
from scheduler_monitor.prometheus import SchedulerCollector

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


@pytest.mark.parametrize("brief", [True, False])
def test_it_equals_generate_latest_byte_for_byte_after_random_changes(
    brief, clock, make_job, record_run
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
        expected = generate_latest(collector)
        assert exposition_cache.scheduler_text(collector) == expected, (round_number, kinds)


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


def test_the_gzipped_body_decompresses_to_it_and_is_reused(clock, make_job, record_run):
    record_run(make_job())
    body = exposition_cache.scheduler_text()
    compressed = exposition_cache.gzipped(body)
    assert gzip.decompress(compressed) == body
    assert exposition_cache.gzipped(bytes(body)) is compressed
