import random
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scheduler_monitor import conf, jobs
from scheduler_monitor.models import JobRun, RunStatus, RunTrigger
from scheduler_monitor.recording import FinishedRun, write_finished_runs
from scheduler_monitor.registry import load_declarations

MAX_DAYS = 90
RUNS_PER_HOUR = 2  # before the recent hours: enough for day-scale charts and heatmaps
# The last hours at each job's own cadence, as the live scheduler will run it: the p95
# rule's baseline, the hourly charts and the lateness figures see no step at the switch.
RECENT_HOURS = 6


class Command(BaseCommand):
    help = "Write a realistic run history for the declared jobs through the recording code."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="days of history (1-90)")
        parser.add_argument("--seed", type=int, default=None, help="random seed")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when runs are already stored"
        )

    def handle(self, *args, days, seed, if_empty, **options):
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
        specs = load_declarations()
        if not specs:
            raise CommandError("No jobs are declared: set SCHEDULER_MONITOR['JOB_MODULES']")
        if if_empty and JobRun.objects.exists():
            self.stdout.write("Runs already stored; nothing seeded.")
            return
        jobs.job_definitions_sync(specs=specs)
        rng = random.Random(seed)
        records = []
        for spec in specs:
            records.extend(self.history_of(spec, days, rng))
        written = write_finished_runs(records)
        self.stdout.write(f"Seeded {written} runs of {len(specs)} jobs over {days} day(s).")

    def history_of(self, spec, days: int, rng: random.Random) -> list[FinishedRun]:
        """Runs as the job behaves: its live durations and failure rate, its cadence lately.

        A job's ``demo_profile`` (typical ms, log-normal sigma, failure rate; the demo jobs
        carry one) says how it behaves live; other jobs get a plausible profile of their own.
        """
        job_id = spec.job_id
        profile = random.Random(job_id)
        behaviour = getattr(spec.func, "demo_profile", None) or {
            "typical_ms": profile.choice([80, 150, 300, 600, 1200, 2500]),
            "sigma": 0.4,
            "failure_rate": profile.choice([0.0, 0.01, 0.02, 0.05, 0.1]),
        }
        typical_ms, sigma = behaviour["typical_ms"], behaviour["sigma"]
        failure_rate = behaviour["failure_rate"]
        now = timezone.now()
        start = now - timedelta(days=days)
        sparse = timedelta(minutes=60 / RUNS_PER_HOUR)
        cadence = timedelta(seconds=spec.expected_interval_seconds)
        recent_from = now - timedelta(hours=RECENT_HOURS)
        at = start + timedelta(seconds=profile.uniform(0, sparse.total_seconds()))
        # The notification job measures its external gateway, as the live demo job does.
        measures_gateway = job_id == conf.get("NOTIFICATION_JOB_ID")
        records = []
        while at < now - cadence:
            step = sparse if at < recent_from else cadence
            duration_ms = typical_ms * rng.lognormvariate(0, sigma)
            failed = rng.random() < failure_rate
            measurements = (
                {"gateway_response_ms": duration_ms * rng.uniform(0.4, 0.8)}
                if measures_gateway
                else {}
            )
            records.append(
                FinishedRun(
                    job_id=job_id,
                    status=RunStatus.FAILURE if failed else RunStatus.SUCCESS,
                    trigger=RunTrigger.SCHEDULED,
                    scheduled_at=at,
                    started_at=at,
                    finished_at=at + timedelta(milliseconds=duration_ms),
                    duration_ms=duration_ms,
                    error="DemoJobError: upstream returned HTTP 503" if failed else "",
                    measurements=measurements,
                    hostname="seed",
                )
            )
            at += step
        return records
