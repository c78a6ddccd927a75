"""A DjangoJobStore that a locked or briefly unreachable database cannot kill.

APScheduler calls its job store from the scheduler loop (``_process_jobs``) and guards only
``get_due_jobs``: an ``OperationalError`` from ``update_job``, ``remove_job`` or
``get_next_run_time`` (SQLite's ``database is locked``, a PostgreSQL restart) ends the
loop, and with a ``BlockingScheduler`` the process. Here every store call retries transient
errors with a growing pause for a bounded time, then logs and returns a safe answer: a
locked database delays jobs, it never stops the scheduler.

It also never deletes what it cannot read: ``DjangoJobStore`` removes a stored job whose
callable cannot be imported in this process, which deletes a host job because of an
import error in one process. Unreadable jobs are skipped (and logged once) instead.
"""

import functools
import logging
import time
from datetime import UTC, datetime, timedelta

from apscheduler import events
from django.db import InterfaceError, OperationalError, connection
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob
from django_apscheduler.util import get_apscheduler_datetime, get_django_internal_datetime

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, InterfaceError)
RETRY_FOR_SECONDS = 60.0  # then give up on this call (the loop goes on)
FIRST_PAUSE_SECONDS = 0.2
MAX_PAUSE_SECONDS = 5.0
# When the next run time cannot be read, look again this soon.
RECHECK_AFTER_SECONDS = 5.0

sleep = time.sleep  # names tests can replace
monotonic = time.monotonic


def _reset_connection() -> None:
    """Drop this thread's connection so the next try opens a fresh one (outside atomic)."""
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close too
        logger.debug("Closing a broken connection failed", exc_info=True)


def retrying(fallback=None, *, raise_after=False):
    """Retry a store method on transient database errors; then return ``fallback(self)``."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            started = monotonic()
            pause = FIRST_PAUSE_SECONDS
            attempt = 0
            while True:
                attempt += 1
                try:
                    return method(self, *args, **kwargs)
                except TRANSIENT_ERRORS as exc:
                    _reset_connection()
                    if monotonic() - started + pause > self.retry_for_seconds:
                        if raise_after:
                            raise
                        logger.error(
                            "Job store %s failed %s time(s) over %.0fs (%s); going on without it",
                            method.__name__,
                            attempt,
                            monotonic() - started,
                            exc,
                        )
                        return fallback(self) if fallback is not None else None
                    logger.warning(
                        "Job store %s: %s; retrying in %.1fs", method.__name__, exc, pause
                    )
                    sleep(pause)
                    pause = min(pause * 2, MAX_PAUSE_SECONDS)

        return wrapper

    return decorate


def _soon(store) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=RECHECK_AFTER_SECONDS)


class ResilientDjangoJobStore(DjangoJobStore):
    """DjangoJobStore whose transient database errors delay jobs instead of raising."""

    retry_for_seconds = RETRY_FOR_SECONDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._unreadable: set[str] = set()

    # Reads: the scheduler guards get_due_jobs itself (retry in jobstore_retry_interval).
    @retrying(raise_after=True)
    def get_due_jobs(self, now):
        return super().get_due_jobs(now)

    @retrying(_soon)
    def get_next_run_time(self):
        stored = DjangoJob.objects.filter(next_run_time__isnull=False)
        if self._unreadable:
            stored = stored.exclude(id__in=self._unreadable)
        first = stored.order_by("next_run_time").values_list("next_run_time", flat=True).first()
        return None if first is None else get_apscheduler_datetime(first, self._scheduler)

    @retrying(raise_after=True)
    def lookup_job(self, job_id):
        return super().lookup_job(job_id)

    @retrying(raise_after=True)
    def get_all_jobs(self):
        return super().get_all_jobs()

    # Writes from the scheduler loop: after the retries, log and go on.
    @retrying()
    def update_job(self, job):
        return super().update_job(job)

    @retrying()
    def remove_job(self, job_id):
        return super().remove_job(job_id)

    @retrying(raise_after=True)
    def add_job(self, job):
        return super().add_job(job)

    def _get_jobs(self, **filters):
        jobs = []
        rows = DjangoJob.objects.filter(**filters)
        if self._unreadable:
            rows = rows.exclude(id__in=self._unreadable)
        for job_id, job_state in rows.values_list("id", "job_state"):
            try:
                jobs.append(self._reconstitute_job(job_state))
            except Exception:  # noqa: BLE001 - whatever unpickling raised: skip, never delete
                logger.exception(
                    "Cannot read stored job %r (is its callable importable here?); leaving "
                    "it in the job store untouched and not running it in this process",
                    job_id,
                )
                self._unreadable.add(job_id)
        return jobs

    def register_event_listeners(self):
        """django-apscheduler's execution log, for this store's jobs only.

        Its listeners logged every job of every store and warned "no longer exists" for
        each run of a job kept elsewhere (the manual runs' memory store).
        """
        alias = self._alias

        def only_mine(handler):
            def handle(event):
                if getattr(event, "jobstore", alias) == alias:
                    handler(event)

            return handle

        self._scheduler.add_listener(
            only_mine(self.handle_submission_event),
            events.EVENT_JOB_SUBMITTED | events.EVENT_JOB_MAX_INSTANCES,
        )
        self._scheduler.add_listener(
            only_mine(self.handle_execution_event), events.EVENT_JOB_EXECUTED
        )
        self._scheduler.add_listener(
            only_mine(self.handle_error_event), events.EVENT_JOB_ERROR | events.EVENT_JOB_MISSED
        )


def make_resilient(store) -> bool:
    """Turn a plain DjangoJobStore (e.g. a host's) into a resilient one; True if done."""
    if type(store) is DjangoJobStore:
        store.__class__ = ResilientDjangoJobStore
        store._unreadable = set()
        return True
    return isinstance(store, ResilientDjangoJobStore)


__all__ = ["ResilientDjangoJobStore", "make_resilient", "get_django_internal_datetime"]
