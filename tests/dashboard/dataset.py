"""A small known data set for the dashboard tests, and the numbers it must show.

Expected values are computed here straight from the run list (with ``statistics``), never
through the app's domain reads, so the tests compare the page against an independent reference.
"""

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from scheduler_monitor.models import JobDefinition, RunStatus
from scheduler_monitor.recording import FinishedRun, get_recorder

JOBS = [
    # job_id, name, owner, category, paused
    ("alpha_job", "Alpha reports", "Team A", "Billing", False),
    ("beta_job", "Beta sync", "Team B", "Billing", False),
    ("send_alert_notifications", "发送告警通知", "SRE", "Notifications", False),
    ("gamma_job", "Gamma index", "Search Team", "Search", True),
]

S, F = RunStatus.SUCCESS, RunStatus.FAILURE
# job_id, status, duration ms, hours ago, gateway_response_ms (None: not measured)
RUNS = [
    ("alpha_job", S, 100.0, 1.0, None),
    ("alpha_job", S, 200.0, 2.0, None),
    ("alpha_job", S, 300.0, 3.0, None),
    ("alpha_job", F, 50.0, 4.0, None),
    ("alpha_job", S, 400.0, 5.0, None),
    ("beta_job", S, 10.0, 40.0, None),
    ("beta_job", F, 20.0, 3.0, None),
    ("beta_job", F, 30.0, 3.4, None),
    ("beta_job", F, 25.0, 3.2, None),
    ("send_alert_notifications", S, 80.0, 0.5, 50.0),
    ("send_alert_notifications", S, 90.0, 1.5, 60.0),
    ("send_alert_notifications", S, 100.0, 2.5, 70.0),
    ("send_alert_notifications", S, 110.0, 6.0, 200.0),
    ("send_alert_notifications", F, 120.0, 2.0, None),
    ("send_alert_notifications", S, 95.0, 26.0, 40.0),
    ("gamma_job", F, 500.0, 240.0, None),
]


@dataclass
class Dataset:
    now: datetime
    jobs: dict[str, JobDefinition]
    started: list[tuple[str, str, float, datetime, float | None]]

    def runs_of(self, job_id):
        return [r for r in self.started if r[0] == job_id]

    # --- the numbers the page must show, computed independently ---
    def expected_cards(self) -> dict:
        ok = sum(1 for r in self.started if r[1] == S)
        failed = sum(1 for r in self.started if r[1] == F)
        latest = {}
        for job_id, status, _, at, _ in self.started:
            if job_id not in latest or at > latest[job_id][0]:
                latest[job_id] = (at, status)
        return {
            "total_jobs": len(JOBS),
            "success_rate": ok / (ok + failed),
            "avg_duration_ms": statistics.fmean(r[2] for r in self.started),
            "failing_jobs": sum(1 for _, status in latest.values() if status == F),
            "runs_last_24h": sum(1 for r in self.started if self.now - r[3] < timedelta(hours=24)),
            "failures_last_24h": sum(
                1 for r in self.started if r[1] == F and self.now - r[3] < timedelta(hours=24)
            ),
        }

    def expected_chain(self) -> dict:
        runs = self.runs_of("send_alert_notifications")
        durations = [r[2] for r in runs]
        gateway = [r[4] for r in runs if r[4] is not None]
        return {
            "success": sum(1 for r in runs if r[1] == S),
            "failure": sum(1 for r in runs if r[1] == F),
            "rate": sum(1 for r in runs if r[1] == S) / len(runs),
            "avg": statistics.fmean(durations),
            "p95": statistics.quantiles(durations, n=100, method="inclusive")[94],
            "gateway_avg": statistics.fmean(gateway),
            "gateway_p95": statistics.quantiles(gateway, n=100, method="inclusive")[94],
        }

    def expected_heat(self, *, bucket: str) -> dict[tuple[str, str], int]:
        """Failures per (category, bucket start as ISO) in the 24 h or 30 day range."""
        categories = {job_id: cat for job_id, _, _, cat, _ in JOBS}
        now = self.now.astimezone(UTC)
        if bucket == "hour":
            newest = now.replace(minute=0, second=0, microsecond=0)
            oldest = newest - timedelta(hours=23)
        else:
            newest = now.replace(hour=0, minute=0, second=0, microsecond=0)
            oldest = newest - timedelta(days=29)
        counts: dict[tuple[str, str], int] = {}
        for job_id, status, _, at, _ in self.started:
            if status != F:
                continue
            at = at.astimezone(UTC)
            start = at.replace(minute=0, second=0, microsecond=0)
            if bucket == "day":
                start = start.replace(hour=0)
            if oldest <= start <= newest:
                key = (categories[job_id], start.isoformat())
                counts[key] = counts.get(key, 0) + 1
        return counts


def build_dataset(now: datetime | None = None) -> Dataset:
    """Create the jobs and record every run through the real write path."""
    now = now or timezone.now()
    jobs = {
        job_id: JobDefinition.objects.create(
            job_id=job_id,
            name=name,
            owner=owner,
            category=category,
            paused=paused,
            schedule="every 1min",
        )
        for job_id, name, owner, category, paused in JOBS
    }
    started = []
    recorder = get_recorder()
    # Oldest first, as a scheduler records them: the last write sets the job's last run.
    for job_id, status, duration, hours_ago, gateway in sorted(RUNS, key=lambda r: -r[3]):
        at = now - timedelta(hours=hours_ago)
        recorder.write(
            FinishedRun(
                job_id=job_id,
                status=status,
                scheduled_at=at,
                started_at=at,
                finished_at=at + timedelta(milliseconds=duration),
                duration_ms=duration,
                error="RuntimeError: upstream returned HTTP 503" if status == F else "",
                traceback="Traceback (most recent call last):\n  boom" if status == F else "",
                measurements={"gateway_response_ms": gateway} if gateway is not None else {},
            )
        )
        started.append((job_id, status, duration, at, gateway))
    for job in jobs.values():
        job.refresh_from_db()
    return Dataset(now=now, jobs=jobs, started=started)
