"""The collector: every exported value equals the database and independent references."""

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_apscheduler.models import DjangoJob
from prometheus_client import CollectorRegistry, generate_latest

from scheduler_monitor import scheduler_instances
from scheduler_monitor.exposition import SchedulerCollector
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus, SchedulerInstance
from scheduler_monitor.window import reset_window
from tests.prometheus_parse import parse, sample

BOUNDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)
BRIEF_FAMILIES = {
    "scheduler_job_last_duration_ms",
    "scheduler_job_last_run_timestamp",
    *(f"scheduler_job_duration_{s}_ms" for s in ("avg", "p50", "p95", "p99", "min", "max")),
}
IDIOMATIC_FAMILIES = {
    "scheduler_job_success",
    "scheduler_job_failure",
    "scheduler_job_timed_out",
    "scheduler_job_retried",
    "scheduler_job_duration_seconds",
    "scheduler_job_last_run_timestamp_seconds",
    "scheduler_job_last_success_timestamp_seconds",
    "scheduler_job_next_run_timestamp_seconds",
    "scheduler_job_running",
    "scheduler_job_paused",
    "scheduler_job_overdue",
    "scheduler_job_expected_interval_seconds",
    "scheduler_job_stuck_runs",
    "scheduler_up",
    "scheduler_heartbeat_timestamp_seconds",
    "scheduler_job_missed",
    "scheduler_job_skipped",
    "scheduler_records_degraded",
    "scheduler_incidents_open",
    "scheduler_notifications_sent",
    "scheduler_notification_latency_seconds",
    "scheduler_notification_outbox_pending",
}
ODD_NAME = 'Say "hi" \\ back\n计算项目健康度'


def scrape(**collector_kwargs) -> dict:
    registry = CollectorRegistry()
    registry.register(SchedulerCollector(**collector_kwargs))
    return parse(generate_latest(registry).decode())


@pytest.fixture
def jobs_with_runs(make_job, record_run):
    """Three jobs with seeded random durations and failures; returns {job_id: durations}."""
    rng = random.Random(4)
    jobs = [
        make_job("odd_name", name=ODD_NAME, owner="SRE 团队", category="Notifications"),
        make_job("fast", name="Fast job", owner="Team A", category="Billing"),
        make_job("slow", name="Slow job", owner="Team B", category="Billing"),
    ]
    durations = {}
    start = timezone.now() - timedelta(hours=2)
    for n, job in enumerate(jobs):
        scale = [30, 400, 9000][n]
        durations[job.job_id] = []
        for i in range(40 + 10 * n):
            duration = scale * rng.lognormvariate(0, 0.5)
            status = RunStatus.FAILURE if rng.random() < 0.2 else RunStatus.SUCCESS
            record_run(
                job,
                status=status,
                duration_ms=duration,
                started_at=start + timedelta(seconds=30 * i),
            )
            durations[job.job_id].append(duration)
    return durations


def test_it_registers_without_querying(db, django_assert_num_queries):
    """describe() returns the families without touching the database."""
    with django_assert_num_queries(0):
        CollectorRegistry().register(SchedulerCollector())


def test_it_exports_values_equal_to_the_database_and_reference_stats(jobs_with_runs):
    """Counters, last values, window stats and histogram match the DB and statistics."""
    families = scrape()
    assert families["scheduler_job_success"]["type"] == "counter"
    assert families["scheduler_job_duration_seconds"]["type"] == "histogram"
    for job in JobDefinition.objects.all():
        durations = jobs_with_runs[job.job_id]
        labels = {
            "job_id": job.job_id,
            "job_name": job.name,
            "owner": job.owner,
            "category": job.category,
        }

        def get(name, labels=labels):
            return sample(families, name, **labels)

        assert get("scheduler_job_success_total") == job.success_count
        assert get("scheduler_job_failure_total") == job.failure_count
        assert get("scheduler_job_timed_out_total") == job.timed_out_count == 0
        assert get("scheduler_job_retried_total") == job.retried_count == 0
        assert job.success_count + job.failure_count == len(durations)
        assert get("scheduler_job_last_duration_ms") == pytest.approx(durations[-1])
        assert get("scheduler_job_last_run_timestamp") == pytest.approx(job.last_run_at.timestamp())
        assert get("scheduler_job_last_run_timestamp_seconds") == pytest.approx(
            job.last_run_at.timestamp()
        )
        last_success = (
            JobRun.objects.filter(job=job, status=RunStatus.SUCCESS).latest("started_at")
        ).started_at
        assert get("scheduler_job_last_success_timestamp_seconds") == pytest.approx(
            last_success.timestamp()
        )
        cuts = statistics.quantiles(durations, n=100, method="inclusive")
        assert get("scheduler_job_duration_avg_ms") == pytest.approx(statistics.fmean(durations))
        assert get("scheduler_job_duration_p50_ms") == pytest.approx(cuts[49])
        assert get("scheduler_job_duration_p95_ms") == pytest.approx(cuts[94])
        assert get("scheduler_job_duration_p99_ms") == pytest.approx(cuts[98])
        assert get("scheduler_job_duration_min_ms") == pytest.approx(min(durations))
        assert get("scheduler_job_duration_max_ms") == pytest.approx(max(durations))
        for bound in BOUNDS:
            expected = sum(1 for d in durations if d / 1000 <= bound)
            assert (
                sample(
                    families,
                    "scheduler_job_duration_seconds_bucket",
                    le=str(float(bound)),
                    **labels,
                )
                == expected
            )
        assert sample(families, "scheduler_job_duration_seconds_bucket", le="+Inf", **labels) == (
            len(durations)
        )
        assert get("scheduler_job_duration_seconds_count") == job.success_count + job.failure_count
        assert get("scheduler_job_duration_seconds_sum") == pytest.approx(sum(durations) / 1000)
        assert get("scheduler_job_duration_seconds_sum") == pytest.approx(
            job.duration_sum_ms / 1000
        )
        assert get("scheduler_job_paused") == 0
        assert get("scheduler_job_running") == 0
    odd = sample(families, "scheduler_job_success_total", job_id="odd_name")
    assert odd == JobDefinition.objects.get(job_id="odd_name").success_count
    assert sample(families, "scheduler_job_success_total", job_name=ODD_NAME) == odd


def test_it_never_uses_a_label_named_job(jobs_with_runs):
    """Every sample's labels come from job_id, job_name, owner, category (and le); the
    degraded-record counter has its reason, incident and notification families severity,
    channel and outcome."""
    job_labels = {"job_id", "job_name", "owner", "category", "le"}
    for name, family in scrape().items():
        allowed = {"reason"} if name == "scheduler_records_degraded" else set()
        if name.startswith(("scheduler_incidents", "scheduler_notification")):
            allowed = {"severity", "channel", "outcome"}
        for _, labels, _ in family["samples"]:
            assert set(labels) <= job_labels | allowed


def test_it_switches_the_brief_families_off(jobs_with_runs, settings):
    """BRIEF_METRICS=False leaves only the idiomatic families."""
    settings.SCHEDULER_MONITOR = {"BRIEF_METRICS": False}
    assert set(scrape()) == IDIOMATIC_FAMILIES
    settings.SCHEDULER_MONITOR = {}
    assert set(scrape()) == IDIOMATIC_FAMILIES | BRIEF_FAMILIES


def test_it_exports_scheduler_state_next_runs_running_and_paused(make_job, record_run):
    """Heartbeat, up, next run from the job store, in-flight runs and paused flags."""
    now = timezone.now()
    active = make_job("active")
    paused = make_job("paused", paused=True)
    instance = SchedulerInstance.objects.create(
        hostname="h", pid=1, started_at=now - timedelta(minutes=5), heartbeat_at=now
    )
    next_run = now + timedelta(minutes=3)
    DjangoJob.objects.create(id="active", next_run_time=next_run, job_state=b"")
    DjangoJob.objects.create(id="paused", next_run_time=None, job_state=b"")
    JobRun.objects.create(job=active, status=RunStatus.RUNNING, started_at=now)
    families = scrape()
    assert sample(families, "scheduler_up") == 1
    assert sample(families, "scheduler_heartbeat_timestamp_seconds") == pytest.approx(
        instance.heartbeat_at.timestamp()
    )
    assert sample(
        families, "scheduler_job_next_run_timestamp_seconds", job_id="active"
    ) == pytest.approx(next_run.timestamp())
    assert sample(families, "scheduler_job_next_run_timestamp_seconds", job_id="paused") is None
    assert sample(families, "scheduler_job_running", job_id="active") == 1
    assert sample(families, "scheduler_job_running", job_id=paused.job_id) == 0
    assert sample(families, "scheduler_job_paused", job_id="paused") == 1
    SchedulerInstance.objects.update(stopped_at=now)
    assert sample(scrape(), "scheduler_up") == 0


def test_it_counts_queries_independent_of_the_number_of_jobs(make_job, record_run, settings):
    """A scrape costs the same fixed number of queries for 2 jobs as for 20."""
    settings.SCHEDULER_MONITOR = {"WINDOW_REFRESH_INTERVAL": 0}

    def queries_for(n_jobs):
        for _ in range(n_jobs - JobDefinition.objects.count()):
            record_run(make_job(), duration_ms=10)
        scrape()  # warm the window
        with CaptureQueriesContext(connection) as ctx:
            scrape()
        return len(ctx.captured_queries)

    few = queries_for(2)
    many = queries_for(20)
    assert few == many
    # Window top-up, jobs, next runs, running runs, stuck runs, 3 for the latest
    # instance and job counts, lease and live instances; missed/skipped counts and
    # degraded-record counts (scheduler_event_metrics); open incidents, channels' delivery
    # counters, the outbox (tests/test_notification_metrics.py).
    assert few == 12 + 3


def test_it_never_lowers_counters_when_old_runs_are_deleted(jobs_with_runs):
    """Deleting runs (pruning) keeps counters, histogram buckets, _count and _sum."""
    before = scrape()
    JobRun.objects.all().delete()
    reset_window()
    after = scrape()
    for name in (
        "scheduler_job_success",
        "scheduler_job_failure",
        "scheduler_job_duration_seconds",
    ):
        assert after[name]["samples"] == before[name]["samples"]
    assert "scheduler_job_duration_p95_ms" in after
    assert after["scheduler_job_duration_p95_ms"]["samples"] == []


def test_it_rebuilds_a_changed_jobs_samples_and_reuses_the_unchanged_ones(make_job, record_run):
    """Between scrapes, a job that ran shows its new values; the others keep theirs."""
    ran, idle = make_job("ran"), make_job("idle")
    record_run(ran, duration_ms=20)
    record_run(idle, duration_ms=3000)
    first = scrape()
    record_run(ran, status=RunStatus.FAILURE, duration_ms=700)
    second = scrape()
    assert sample(first, "scheduler_job_failure_total", job_id="ran") == 0
    assert sample(second, "scheduler_job_failure_total", job_id="ran") == 1
    assert sample(second, "scheduler_job_duration_seconds_count", job_id="ran") == 2
    assert sample(second, "scheduler_job_duration_seconds_bucket", job_id="ran", le="1.0") == 2
    assert sample(second, "scheduler_job_duration_seconds_bucket", job_id="ran", le="0.5") == 1
    assert first.keys() == second.keys()
    for name in second:  # the idle job's samples are exactly those of the first scrape
        assert idle_samples(second[name]) == idle_samples(first[name])
    JobDefinition.objects.filter(job_id="idle").update(owner="Team Z")
    assert sample(scrape(), "scheduler_job_success_total", job_id="idle", owner="Team Z") == 1


def idle_samples(family: dict) -> list:
    return [s for s in family["samples"] if s[1].get("job_id") == "idle"]


NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def test_it_exports_overdue_interval_and_stuck_runs(make_job):
    """Time frozen: overdue only past the grace (6 min for 1 h); stuck runs counted per job."""
    late = make_job("late", expected_interval_seconds=3600)
    within = make_job("within", expected_interval_seconds=3600, max_runtime_seconds=60)
    paused = make_job("paused", expected_interval_seconds=60, paused=True)
    unknown = make_job("unknown")
    with time_machine.travel(NOW, tick=False):
        for job, due in (
            (late, NOW - timedelta(minutes=7)),
            (within, NOW - timedelta(minutes=5)),
            (paused, NOW - timedelta(hours=1)),  # a stale time: paused jobs are never late
            (unknown, None),
        ):
            DjangoJob.objects.create(id=job.job_id, next_run_time=due, job_state=b"")
        for seconds in (61, 90, 30):
            JobRun.objects.create(
                job=within, status=RunStatus.RUNNING, started_at=NOW - timedelta(seconds=seconds)
            )
        families = scrape()
    overdue = {j: sample(families, "scheduler_job_overdue", job_id=j) for j in JOB_IDS}
    assert overdue == {"late": 1, "within": 0, "paused": 0, "unknown": 0}
    interval = {
        j: sample(families, "scheduler_job_expected_interval_seconds", job_id=j) for j in JOB_IDS
    }
    assert interval == {"late": 3600, "within": 3600, "paused": 60, "unknown": None}
    stuck = {j: sample(families, "scheduler_job_stuck_runs", job_id=j) for j in JOB_IDS}
    assert stuck == {"late": 0, "within": 2, "paused": 0, "unknown": 0}
    assert sample(families, "scheduler_job_running", job_id="within") == 3


JOB_IDS = ("late", "within", "paused", "unknown")


def test_it_reports_down_when_only_a_standby_is_alive(db):
    """scheduler_up follows the lease: a live standby without a live holder is down."""
    with time_machine.travel(NOW, tick=False) as frozen:
        holder = scheduler_instances.scheduler_instance_start()
        standby = scheduler_instances.scheduler_instance_start()
        assert scheduler_instances.scheduler_lease_acquire(instance=holder)
        assert sample(scrape(), "scheduler_up") == 1
        frozen.shift(scheduler_instances.lease_ttl_seconds() + 1)
        scheduler_instances.scheduler_instance_heartbeat(instance=standby)
        families = scrape()
        assert sample(families, "scheduler_up") == 0
        # The heartbeat gauge still shows the freshest instance: the standby's.
        assert sample(families, "scheduler_heartbeat_timestamp_seconds") == pytest.approx(
            standby.heartbeat_at.timestamp()
        )
        assert scheduler_instances.scheduler_lease_acquire(instance=standby)
        assert sample(scrape(), "scheduler_up") == 1


def test_it_exports_missed_skipped_and_degraded_record_counters(make_job, record_run):
    """Missed and skipped per job from the job's counters, degraded records per reason."""
    from scheduler_monitor.recording import get_recorder
    from scheduler_monitor.scheduler_events import degraded_records_count

    make_job("gappy")
    for _ in range(3):
        get_recorder().record_unstarted("gappy", RunStatus.MISSED, None)
    get_recorder().record_unstarted("gappy", RunStatus.SKIPPED, None)
    degraded_records_count(["measurement_dropped"])
    degraded_records_count(["measurement_dropped", "text_replaced"])
    families = scrape()
    assert sample(families, "scheduler_job_missed_total", job_id="gappy") == 3
    assert sample(families, "scheduler_job_skipped_total", job_id="gappy") == 1
    degraded = sample(families, "scheduler_records_degraded_total", reason="measurement_dropped")
    assert degraded == 2
    assert sample(families, "scheduler_records_degraded_total", reason="text_replaced") == 1
    assert sample(families, "scheduler_records_degraded_total", reason="lost") == 0
