"""The notification chain: the notification job's health and its gateway's timings."""

from dataclasses import dataclass

from scheduler_monitor import conf
from scheduler_monitor.jobs import job_window_statistics, success_rate
from scheduler_monitor.models import JobDefinition
from scheduler_monitor.runs import measurement_statistics
from scheduler_monitor.stats import EMPTY_STATS, Stats

GATEWAY_MEASUREMENT = "gateway_response_ms"


@dataclass(frozen=True)
class NotificationChain:
    """The notification job's health: counters, window timings, the gateway's response time."""

    job_id: str
    job: JobDefinition | None
    stats: Stats
    gateway: Stats

    @property
    def success_rate(self) -> float | None:
        return success_rate(self.job.success_count, self.job.failure_count) if self.job else None


def notification_chain(*, job_id: str | None = None) -> NotificationChain:
    """The job named by ``NOTIFICATION_JOB_ID`` (or ``job_id``), with its gateway timings."""
    job_id = job_id or conf.get("NOTIFICATION_JOB_ID")
    job = JobDefinition.objects.filter(job_id=job_id).first()
    if job is None:
        return NotificationChain(job_id=job_id, job=None, stats=EMPTY_STATS, gateway=EMPTY_STATS)
    return NotificationChain(
        job_id=job_id,
        job=job,
        stats=job_window_statistics(job_id=job_id),
        gateway=measurement_statistics(job=job, name=GATEWAY_MEASUREMENT),
    )
