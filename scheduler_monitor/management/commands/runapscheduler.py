import signal

from django.core.management.base import BaseCommand

from scheduler_monitor.scheduler import SchedulerProcess


class Command(BaseCommand):
    help = "Run the scheduler with the monitored jobs. Run exactly one, never in web workers."

    def handle(self, *args, **options):
        process = SchedulerProcess()
        # Before prepare(): a SIGTERM that arrives while preparing must stop cleanly too.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: process.stop())
        process.prepare()
        if process.active:
            state = f"running {len(process.scheduler.get_jobs())} job(s)"
        else:
            state = "standby: another scheduler holds the lease; taking over when it stops"
        self.stdout.write(f"Scheduler {process.instance} {state}; Ctrl+C or SIGTERM stops it.")
        self.stdout.flush()
        process.run()
        self.stdout.write("Scheduler stopped.")
