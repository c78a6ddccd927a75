"""The cached scheduler exposition is byte for byte prometheus_client's generate_latest."""

import gzip
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_apscheduler.models import DjangoJob
from prometheus_client import generate_latest
from prometheus_client.exposition import choose_encoder

from scheduler_monitor import exposition_cache
from scheduler_monitor.exposition import SchedulerCollector
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus, SchedulerInstance
from scheduler_monitor.schedule_health import effective_grace_seconds
from scheduler_monitor.scheduler_events import degraded_records_count
from tests.prometheus_parse import gzip_members

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
        body = exposition_cache.scheduler_body(collector, encoder)
        assert body.text == expected, (round_number, kinds)
        assert gzip.decompress(body.gzipped) == expected, (round_number, kinds)
        assert gzip_members(body.gzipped_whole) == [expected], (round_number, kinds)


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


@pytest.mark.parametrize("url", ["/api/v1/scheduler/metrics/prometheus", "/metrics"])
@pytest.mark.parametrize(
    ("accept", "members"),
    [
        ("text/plain;version=0.0.4", True),
        ("application/openmetrics-text;version=1.0.0", True),
        ("", True),  # Go's HTTP client
        ("*/*", False),  # curl
        ("text/html,application/xhtml+xml,*/*;q=0.8", False),  # a browser
    ],
)
def test_the_scrape_view_serves_the_encoders_bytes_gzipped(
    clock, admin_client, make_job, accept, members, url
):
    """Scrapers get gzip members, curl and browsers one member; both decompress to exactly
    the encoder's output (the scheduler families, after the process' own on /metrics)."""
    for _ in range(70):
        make_job()
    encoder = choose_encoder(accept)[0]
    for _ in range(2):  # rendered, then reused
        response = admin_client.get(url, headers={"Accept": accept, "Accept-Encoding": "gzip"})
        assert response["Content-Encoding"] == "gzip"
        text = gzip.decompress(response.content)
        count = len(gzip_members(response.content))
        assert count > 1 if members else count == 1, count
        scheduler = exposition_cache.without_eof(encoder, encoder(SchedulerCollector()))
        if url == "/metrics":
            assert text.startswith(b"# HELP python_gc_objects_collected")
        assert text.endswith(encoder(SchedulerCollector()))
        assert scheduler in text


def schedule(job: JobDefinition, at: datetime) -> None:
    DjangoJob.objects.update_or_create(
        id=job.job_id, defaults={"next_run_time": at, "job_state": b""}
    )


def scheduled_jobs(make_job, record_run, count: int = 40) -> list[JobDefinition]:
    """``count`` jobs every minute (three segments a family), half with runs, all due soon."""
    jobs = [make_job(expected_interval_seconds=60) for _ in range(count)]
    for job in jobs[::2]:
        record_run(job, started_at=NOW - timedelta(minutes=1))
    for job in jobs:
        schedule(job, NOW + timedelta(seconds=30))
    return jobs


def test_it_returns_the_same_body_and_gzip_while_nothing_changed(clock, make_job, record_run):
    scheduled_jobs(make_job, record_run)
    first = exposition_cache.scheduler_body()
    assert first.text == generate_latest(SchedulerCollector())
    clock.shift(timedelta(seconds=10))  # time passes, no boundary crossed
    again = exposition_cache.scheduler_body()
    assert again is first
    assert again.gzipped is first.gzipped


def record_a_run(jobs, record_run):
    record_run(jobs[7], duration_ms=12_345.0)


def add_a_job(jobs, make_job):
    make_job("job_added_between_scrapes", expected_interval_seconds=60)


def remove_a_job(jobs):
    JobDefinition.objects.filter(pk=jobs[3].pk).update(removed=True)


def start_a_run(jobs):
    JobRun.objects.create(job=jobs[20], status=RunStatus.RUNNING, started_at=NOW)


def pause_a_job(jobs):
    JobDefinition.objects.filter(pk=jobs[30].pk).update(paused=True)


def move_a_next_run(jobs):
    schedule(jobs[11], NOW + timedelta(minutes=5))


def count_a_missed_run(jobs):
    JobDefinition.objects.filter(pk=jobs[39].pk).update(missed_count=3)


def count_a_degraded_record(jobs):
    degraded_records_count(["text_replaced"])


def heartbeat(jobs):
    SchedulerInstance.objects.create(hostname="h", pid=1, started_at=NOW, heartbeat_at=NOW)


@pytest.mark.parametrize(
    "change",
    [
        record_a_run,
        add_a_job,
        remove_a_job,
        start_a_run,
        pause_a_job,
        move_a_next_run,
        count_a_missed_run,
        count_a_degraded_record,
        heartbeat,
    ],
)
@pytest.mark.parametrize("encoder", [generate_latest, OPENMETRICS], ids=["text", "OpenMetrics"])
def test_a_change_between_scrapes_gives_a_new_body_equal_to_the_encoders(
    change, encoder, clock, make_job, record_run
):
    jobs = scheduled_jobs(make_job, record_run)
    before = exposition_cache.scheduler_body(encoder=encoder)
    before_gzipped = before.gzipped
    arguments = {"record_a_run": (jobs, record_run), "add_a_job": (jobs, make_job)}
    change(*arguments.get(change.__name__, (jobs,)))
    after = exposition_cache.scheduler_body(encoder=encoder)
    expected = encoder(SchedulerCollector())
    assert after.text != before.text
    assert after.text == expected
    assert gzip.decompress(after.gzipped) == expected != gzip.decompress(before_gzipped)


def samples(text: bytes, family: str) -> list[bytes]:
    """The sample lines of ``family`` in an exposition."""
    section = text.split(f"# TYPE {family} ".encode())[1].split(b"\n# HELP")[0]
    return section.splitlines()[1:]


def test_an_overdue_boundary_passing_changes_the_body_without_any_write(
    clock, make_job, record_run
):
    jobs = scheduled_jobs(make_job, record_run)
    before = exposition_cache.scheduler_body()
    overdue = samples(before.text, "scheduler_job_overdue")
    assert len(overdue) == len(jobs)
    assert all(line.endswith(b"} 0.0") for line in overdue)
    # Due in 30 s, overdue after its grace more: just before that nothing changed.
    grace = effective_grace_seconds(None, 60)
    clock.shift(timedelta(seconds=30 + grace - 1))
    assert exposition_cache.scheduler_body() is before
    clock.shift(timedelta(seconds=2))
    after = exposition_cache.scheduler_body()
    assert after.text == generate_latest(SchedulerCollector())
    assert all(line.endswith(b"} 1.0") for line in samples(after.text, "scheduler_job_overdue"))
    assert gzip.decompress(after.gzipped) == after.text


def test_a_run_passing_its_max_runtime_changes_the_body_without_any_write(clock, make_job):
    job = make_job(max_runtime_seconds=60)
    JobRun.objects.create(job=job, status=RunStatus.RUNNING, started_at=NOW)
    before = exposition_cache.scheduler_body()
    assert samples(before.text, "scheduler_job_stuck_runs")[0].endswith(b"} 0.0")
    clock.shift(timedelta(seconds=61))
    after = exposition_cache.scheduler_body()
    assert after.text == generate_latest(SchedulerCollector())
    assert samples(after.text, "scheduler_job_stuck_runs")[0].endswith(b"} 1.0")


def test_a_changed_job_gzips_only_its_own_segments_again(clock, make_job, record_run, monkeypatch):
    jobs = scheduled_jobs(make_job, record_run, count=100)
    body = exposition_cache.scheduler_body()
    total = len([segment for segment in body.segments if segment])
    assert gzip.decompress(body.gzipped) == body.text
    compressed = []
    compress = gzip.compress
    monkeypatch.setattr(
        exposition_cache.gzip,
        "compress",
        lambda data, **kw: compressed.append(data) or compress(data, **kw),
    )
    record_run(jobs[50])
    after = exposition_cache.scheduler_body()
    assert gzip.decompress(after.gzipped) == generate_latest(SchedulerCollector())
    # One segment per family holding the job (some families have no line for it), none else.
    families = len(SchedulerCollector()._families()) + 2
    assert 0 < len(compressed) <= families < total / 3
    assert all(jobs[50].job_id.encode() in data for data in compressed)


def test_a_changed_grace_setting_changes_the_body(clock, make_job, record_run, settings):
    jobs = scheduled_jobs(make_job, record_run)
    clock.shift(timedelta(seconds=30 + effective_grace_seconds(None, 60) - 5))
    before = exposition_cache.scheduler_body()
    assert all(line.endswith(b"} 0.0") for line in samples(before.text, "scheduler_job_overdue"))
    settings.SCHEDULER_MONITOR = {
        **getattr(settings, "SCHEDULER_MONITOR", {}),
        "OVERDUE_GRACE_FRACTION": 0.01,
        "OVERDUE_GRACE_MIN_SECONDS": 1,
    }
    after = exposition_cache.scheduler_body()
    assert after.text == generate_latest(SchedulerCollector())
    overdue = samples(after.text, "scheduler_job_overdue")
    assert len(overdue) == len(jobs) and all(line.endswith(b"} 1.0") for line in overdue)
