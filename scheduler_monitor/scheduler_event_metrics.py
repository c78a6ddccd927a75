"""Prometheus families for what did not run or was not stored as recorded.

``scheduler_job_missed_total`` and ``scheduler_job_skipped_total`` per job (scheduled times
that passed unrun: a missed run, or one record per gap counting every fire time it
covers), and ``scheduler_records_degraded_total{reason}``: run records stored other than
as the job produced them (text replaced, measurement dropped, refused and stored reduced,
retries exhausted, lost). All three are monotonic, read from the database.
"""

from prometheus_client.core import CounterMetricFamily, Metric

from scheduler_monitor.models import JobDefinition, RecordDegradation
from scheduler_monitor.record_sanitising import (
    LOST,
    MEASUREMENT_DROPPED,
    REJECTED,
    RETRIES_EXHAUSTED,
    TEXT_REPLACED,
)

LABELS = ("job_id", "job_name", "owner", "category")
REASONS = (TEXT_REPLACED, MEASUREMENT_DROPPED, REJECTED, RETRIES_EXHAUSTED, LOST)


def families(*, with_samples: bool = True) -> list[Metric]:
    """The families, with their samples read from the database unless ``with_samples``."""
    missed, skipped = job_families()
    if not with_samples:
        return [missed, skipped, degraded_family(with_samples=False)]
    rows = JobDefinition.objects.filter(removed=False).values_list(
        "job_id", "name", "owner", "category", "missed_count", "skipped_count"
    )
    for job_id, name, owner, category, missed_count, skipped_count in rows:
        add_job(missed, skipped, [job_id, name, owner, category], missed_count, skipped_count)
    return [missed, skipped, degraded_family()]


def job_families() -> tuple[Metric, Metric]:
    """The per-job families (missed, skipped), without samples."""
    missed = CounterMetricFamily(
        "scheduler_job_missed",
        "Scheduled times of the job that passed without a run (scheduler or database "
        "unavailable, or too late to start).",
        labels=LABELS,
    )
    skipped = CounterMetricFamily(
        "scheduler_job_skipped",
        "Scheduled times of the job skipped because its previous run was still running.",
        labels=LABELS,
    )
    return missed, skipped


def add_job(missed: Metric, skipped: Metric, labels: list[str], missed_count, skipped_count):
    """One job's samples (in the order of JobDefinition's default ordering)."""
    missed.add_metric(labels, missed_count)
    skipped.add_metric(labels, skipped_count)


def degraded_family(*, with_samples: bool = True) -> Metric:
    """Records stored degraded, by reason (one query unless ``with_samples`` is off)."""
    degraded = CounterMetricFamily(
        "scheduler_records_degraded",
        "Run records stored other than as the job produced them, by reason.",
        labels=("reason",),
    )
    if with_samples:
        counts = dict(RecordDegradation.objects.values_list("reason", "count"))
        for reason in sorted(set(REASONS) | set(counts)):
            degraded.add_metric([reason], counts.get(reason, 0))
    return degraded
