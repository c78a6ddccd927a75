import signal

from django.core.management.base import BaseCommand

from scheduler_monitor.scheduler import SchedulerProcess


class Command(BaseCommand):
    help = "Run the scheduler with the monitored jobs. Run exactly one, never in web workers."

    def handle(self, *args, **options):
        process = SchedulerProcess()
        process.prepare()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: process.stop())
        self.stdout.write(
            f"Scheduler {process.instance} running "
            f"{len(process.scheduler.get_jobs())} job(s); Ctrl+C or SIGTERM stops it."
        )
        self.stdout.flush()
        process.run()
        self.stdout.write("Scheduler stopped.")
