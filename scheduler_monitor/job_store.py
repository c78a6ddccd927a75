"""The scheduler's job store: django-apscheduler's, kept alive through a database outage.

APScheduler updates a job's next run time in the store right after handing the run over,
outside its own error handling: a failed update (the database went down after the due jobs
were read, or SQLite's write lock is held longer than two busy timeouts) escapes the
scheduler loop and ends the scheduler. Here the update is retried until the database
takes it, or the scheduler is asked to stop.
"""

import logging
import threading

from django.db import InterfaceError, OperationalError, close_old_connections
from django_apscheduler.jobstores import DjangoJobStore

from scheduler_monitor import database_outages

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class OutageTolerantJobStore(DjangoJobStore):
    """A DjangoJobStore whose ``update_job`` waits out connection faults."""

    def __init__(self, stop: threading.Event | None = None, **kwargs):
        super().__init__(**kwargs)
        self._stop_requested = stop or threading.Event()

    def update_job(self, job):
        while True:
            try:
                return super().update_job(job)
            except (OperationalError, InterfaceError) as exc:
                if self._stop_requested.is_set():
                    raise
                logger.warning("Could not update job %s in the store, retrying: %s", job.id, exc)
                database_outages.note_unreachable()
                close_old_connections()
                if self._stop_requested.wait(RETRY_SECONDS):
                    raise
