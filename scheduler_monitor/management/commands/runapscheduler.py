import signal

from django.core.management.base import BaseCommand

from scheduler_monitor.recording import get_recorder
from scheduler_monitor.scheduler import SchedulerProcess
from scheduler_monitor.scheduler_stop import EXIT_ABANDONED, hard_exit


class Command(BaseCommand):
    help = (
        "Run the scheduler with the monitored jobs. Run exactly one, never in web workers. "
        "SIGTERM or Ctrl+C stops it, waiting up to SHUTDOWN_TIMEOUT for running jobs "
        "(exit status 3 if some had to be abandoned); a second signal exits at once."
    )

    def handle(self, *args, **options):
        process = SchedulerProcess()
        # Before prepare(): a SIGTERM that arrives while preparing must stop cleanly too.
        signal.signal(signal.SIGTERM, lambda signum, _: process.on_signal(signum))
        # An ignored SIGINT stays ignored (a background job of a shell script, such as
        # `make demo`'s scheduler, is stopped by the script's SIGTERM, not by Ctrl+C).
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, lambda signum, _: process.on_signal(signum))
        try:
            process.prepare()
            if process.active:
                state = f"running {len(process.scheduler.get_jobs())} job(s)"
            else:
                state = "standby: another scheduler holds the lease; taking over when it stops"
            self.stdout.write(f"Scheduler {process.instance} {state}; Ctrl+C or SIGTERM stops it.")
            self.stdout.flush()
            process.run()
        finally:
            # Job threads that never return would keep the interpreter from exiting.
            unfinished = max(process.unfinished_runs, get_recorder().active_count)
            if unfinished:
                self.stderr.write(
                    f"Scheduler stopped with {unfinished} job(s) still running; "
                    "they were recorded as abandoned."
                )
                hard_exit(EXIT_ABANDONED)
        self.stdout.write("Scheduler stopped.")
