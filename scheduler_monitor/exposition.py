"""The Prometheus exposition of the scheduler: every metric family, built by prometheus_client.

Counters and last-* values come from the database (monotonic counters survive pruning),
statistics from this process's rolling window. Nothing here writes exposition text.
"""

from collections.abc import Iterator

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from scheduler_monitor import conf, histogram, job_health, scheduler_event_metrics
from scheduler_monitor.notification_metrics import empty_families, notification_families

# Never ``job``: Prometheus sets that label itself and renames ours to ``exported_job``.
LABELS = ("job_id", "job_name", "owner", "category")

# The idiomatic per-job gauges, in exposition order: (key, family name, help).
JOB_GAUGES = (
    (
        "last_run_seconds",
        "scheduler_job_last_run_timestamp_seconds",
        "Start of the job's last run, Unix time.",
    ),
    (
        "last_success_seconds",
        "scheduler_job_last_success_timestamp_seconds",
        "Start of the job's last successful run, Unix time.",
    ),
    (
        "next_run_seconds",
        "scheduler_job_next_run_timestamp_seconds",
        "When the job runs next, Unix time (absent while paused or unscheduled).",
    ),
    ("running", "scheduler_job_running", "Runs of the job in progress now."),
    ("paused", "scheduler_job_paused", "1 if the job is paused, else 0."),
    (
        "overdue",
        "scheduler_job_overdue",
        "1 if the job's next run time passed more than its grace ago, else 0.",
    ),
    (
        "expected_interval",
        "scheduler_job_expected_interval_seconds",
        "Expected time between the job's runs, from its trigger (absent when unknown).",
    ),
    (
        "stuck",
        "scheduler_job_stuck_runs",
        "Runs of the job still running past its maximum runtime.",
    ),
)

# Per job id: (bounds and families, its snapshot row, the samples it added); see _add_jobs.
_samples_cache: dict[str, tuple] = {}

# The brief's window statistics: (family suffix, Stats attribute).
BRIEF_STATS = (
    ("avg", "avg_duration_ms"),
    ("p50", "p50_duration_ms"),
    ("p95", "p95_duration_ms"),
    ("p99", "p99_duration_ms"),
    ("min", "min_duration_ms"),
    ("max", "max_duration_ms"),
)


class SchedulerCollector(Collector):
    """Collects the scheduler families from one ``job_health.prometheus_snapshot()`` per scrape."""

    def __init__(self, *, brief: bool | None = None):
        # None: follow SCHEDULER_MONITOR["BRIEF_METRICS"] at each scrape.
        self._brief = brief

    def brief_enabled(self) -> bool:
        return conf.get("BRIEF_METRICS") if self._brief is None else self._brief

    def describe(self) -> Iterator[Metric]:
        """Return the families without samples, so registering runs no query."""
        return iter(
            [
                *self._families().values(),
                *scheduler_event_metrics.families(with_samples=False),
                *empty_families(),
            ]
        )

    def collect(self) -> Iterator[Metric]:
        snapshot = job_health.prometheus_snapshot()
        families = self._families()
        bounds = conf.get("HISTOGRAM_BUCKETS")
        self._add_jobs(families, snapshot.jobs, bounds)
        self._add_scheduler(families, snapshot)
        return iter([*families.values(), *self.tail_families()])

    @staticmethod
    def tail_families() -> list[Metric]:
        """The families after the per-job ones: scheduler events, incidents, notifications."""
        return [*scheduler_event_metrics.families(), *notification_families()]

    @staticmethod
    def _add_scheduler(families: dict[str, Metric], snapshot) -> None:
        """The samples about the scheduler itself (not per job)."""
        status = snapshot.status
        # Lease-aware: a live standby alone runs no job, so it does not count as up.
        families["up"].add_metric([], 1 if snapshot.running else 0)
        if status.instance is not None:
            families["heartbeat"].add_metric([], status.instance.heartbeat_at.timestamp())

    def _families(self) -> dict[str, Metric]:
        # The brief's counters are idiomatic too: they stay when its other families are off.
        families: dict[str, Metric] = {
            "success": CounterMetricFamily(
                "scheduler_job_success_total", "Successful runs of the job.", labels=LABELS
            ),
            "failure": CounterMetricFamily(
                "scheduler_job_failure_total",
                "Failed runs of the job (final failures: abandoned and timed-out runs "
                "included, attempts that were retried not).",
                labels=LABELS,
            ),
            "timed_out": CounterMetricFamily(
                "scheduler_job_timed_out",
                "Runs of the job recorded as timed out (also counted as failures).",
                labels=LABELS,
            ),
            "retried": CounterMetricFamily(
                "scheduler_job_retried",
                "Failed attempts of the job that were retried (not counted as failures).",
                labels=LABELS,
            ),
        }
        if self.brief_enabled():
            families["last_duration_ms"] = GaugeMetricFamily(
                "scheduler_job_last_duration_ms",
                "Duration of the job's last run in milliseconds.",
                labels=LABELS,
            )
            families["last_run"] = GaugeMetricFamily(
                "scheduler_job_last_run_timestamp",
                "Start of the job's last run, Unix time in seconds.",
                labels=LABELS,
            )
            for suffix, _ in BRIEF_STATS:
                families[suffix] = GaugeMetricFamily(
                    f"scheduler_job_duration_{suffix}_ms",
                    f"{suffix} duration in milliseconds over the job's rolling window "
                    "of recent runs.",
                    labels=LABELS,
                )
        families["duration"] = HistogramMetricFamily(
            "scheduler_job_duration_seconds",
            "Duration of the job's finished runs in seconds.",
            labels=LABELS,
        )
        for key, name, documentation in JOB_GAUGES:
            families[key] = GaugeMetricFamily(name, documentation, labels=LABELS)
        families["up"] = GaugeMetricFamily(
            "scheduler_up",
            "1 if a scheduler runs jobs (the lease holder's heartbeat is fresh), else 0.",
        )
        families["heartbeat"] = GaugeMetricFamily(
            "scheduler_heartbeat_timestamp_seconds",
            "Last heartbeat of the most recent scheduler process, Unix time.",
        )
        return families

    def _add_jobs(self, families: dict[str, Metric], jobs, bounds) -> None:
        """Add every job's samples, reusing those of a job unchanged since the last scrape.

        Building ~30 samples per job (label dicts, bucket rows) was most of the collector's
        own cost; between two scrapes most jobs did not run. A job's samples depend only on
        its snapshot row, the bounds and the family set, so those are the cache key.
        """
        global _samples_cache
        shape = (tuple(bounds), tuple(families))
        previous = _samples_cache
        fresh: dict[str, tuple] = {}
        for job in jobs:
            cached = previous.get(job.job_id)
            if cached is not None and cached[0] == shape and cached[1] == job:
                added = cached[2]
                for key, samples in added:
                    families[key].samples.extend(samples)
            else:
                before = {key: len(family.samples) for key, family in families.items()}
                self._add_job(families, job, bounds)
                added = [
                    (key, family.samples[before[key] :])
                    for key, family in families.items()
                    if len(family.samples) > before[key]
                ]
            fresh[job.job_id] = (shape, job, added)
        _samples_cache = fresh

    def _add_job(self, families: dict[str, Metric], job, bounds) -> None:
        labels = [job.job_id, job.job_name, job.owner, job.category]
        families["success"].add_metric(labels, job.success_count)
        families["failure"].add_metric(labels, job.failure_count)
        families["timed_out"].add_metric(labels, job.timed_out_count)
        families["retried"].add_metric(labels, job.retried_count)
        if "last_run" in families:
            if job.last_duration_ms is not None:
                families["last_duration_ms"].add_metric(labels, job.last_duration_ms)
            if job.last_run_at is not None:
                families["last_run"].add_metric(labels, job.last_run_at.timestamp())
            for suffix, attribute in BRIEF_STATS:
                value = getattr(job.stats, attribute)
                if value is not None:
                    families[suffix].add_metric(labels, value)
        families["duration"].add_metric(
            labels,
            buckets=histogram.cumulative_counts(job.duration_buckets, bounds),
            sum_value=job.duration_sum_ms / 1000.0,
        )
        for key, value in (
            ("last_run_seconds", job.last_run_at),
            ("last_success_seconds", job.last_success_at),
            ("next_run_seconds", job.next_run_at),
        ):
            if value is not None:
                families[key].add_metric(labels, value.timestamp())
        families["running"].add_metric(labels, job.running)
        families["paused"].add_metric(labels, 1 if job.paused else 0)
        families["overdue"].add_metric(labels, 1 if job.overdue else 0)
        if job.expected_interval_seconds is not None:
            families["expected_interval"].add_metric(labels, job.expected_interval_seconds)
        families["stuck"].add_metric(labels, job.stuck_runs)


def scheduler_exposition() -> bytes:
    """The scheduler families in the text format, as one scrape would return them."""
    return generate_latest(SchedulerCollector())
