"""A host project's own scheduler command, as django-apscheduler's docs show it, instrumented."""

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.core.management.base import BaseCommand
from django_apscheduler.jobstores import DjangoJobStore

import scheduler_monitor
from tests.dropin import host_jobs


class Command(BaseCommand):
    help = "Runs the host's APScheduler."

    def handle(self, *args, **options):
        scheduler = BlockingScheduler(timezone=settings.TIME_ZONE)
        scheduler.add_jobstore(DjangoJobStore(), "default")
        scheduler.add_job(
            host_jobs.cleanup_sessions,
            trigger=IntervalTrigger(seconds=1),
            id="host_cleanup",
            max_instances=1,
            replace_existing=True,
        )
        scheduler.add_job(
            host_jobs.flaky_export,
            trigger=IntervalTrigger(seconds=1),
            id="host_export",
            max_instances=1,
            replace_existing=True,
        )
        scheduler_monitor.instrument(scheduler)
        self.stdout.write("Starting the host scheduler...")
        try:
            scheduler.start()
        except KeyboardInterrupt:
            scheduler.shutdown()
        self.stdout.write("Host scheduler stopped.")
