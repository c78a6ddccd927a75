import signal

from django.core.management.base import BaseCommand, CommandError

from scheduler_monitor import audit, incidents, retention


class Command(BaseCommand):
    help = (
        "Delete finished runs of UTC days older than --days, in batches, after rolling each "
        "day up per job (JobRunDailyRollup). Running runs and job counters are never touched. "
        "Audit entries and resolved incidents (with their timelines and sent messages) older "
        "than --keep-failures-days (or --days) go too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True, help="keep this many days of runs")
        parser.add_argument(
            "--keep-failures-days",
            type=int,
            default=None,
            help="keep failed and abandoned runs this many days (at least --days)",
        )
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="runs deleted per transaction"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be deleted; change nothing"
        )

    def handle(self, *args, days, keep_failures_days, batch_size, dry_run, **options):
        self.stop_requested = False
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            result = retention.job_runs_prune(
                days=days,
                keep_failures_days=keep_failures_days,
                batch_size=batch_size,
                dry_run=dry_run,
                progress=self.progress,
                should_stop=lambda: self.stop_requested,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        verb = "Would delete" if dry_run else "Deleted"
        summary = f"{verb} {result.deleted} run(s) started before {result.cutoff:%Y-%m-%d}"
        if result.failure_cutoff != result.cutoff:
            summary += (
                f"; failures kept until {result.failure_cutoff:%Y-%m-%d} "
                f"({result.kept_failures} kept in the pruned days)"
            )
        if options["verbosity"] >= 2 and not dry_run:
            self.stdout.write(
                f"Busy {result.busy_seconds:.3f} s: rolling up {result.rollup_seconds:.3f} s, "
                f"deleting {result.delete_seconds:.3f} s in {result.batches} batch(es); "
                f"paused {result.paused_seconds:.3f} s between batches for other writers."
            )
        keep = keep_failures_days or days
        entries = audit.audit_entries_prune(days=keep, dry_run=dry_run)
        self.stdout.write(f"{verb} {entries} audit entr{'y' if entries == 1 else 'ies'}.")
        resolved = incidents.incidents_prune(days=keep, dry_run=dry_run)
        self.stdout.write(f"{verb} {resolved} resolved incident(s).")
        self.stdout.write(summary + ".")
        if result.interrupted:
            raise CommandError("Stopped on request after the last whole batch; run again to go on")

    def request_stop(self, signum, frame) -> None:
        """Finish the current batch, then stop (SIGTERM, Ctrl+C)."""
        self.stop_requested = True
        self.stderr.write("Stopping after the current batch...")

    def progress(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
