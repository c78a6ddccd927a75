"""Retries of failed runs: each attempt a one-off job in the scheduler, after a backoff.

A failed run of a job declared with ``retries=N`` is run again up to N times, each
attempt a new run scheduled in the scheduler (a one-off date job, never a sleep in the
worker thread) after ``retry_backoff_seconds x 2^(attempt-1)``, give or take 10 % jitter
so that jobs failing together do not retry in lockstep. The active scheduler registers
itself as the target (``retry_target_set``); without one, failures are final.
"""

import logging
import random
from datetime import timedelta

from django.utils import timezone

logger = logging.getLogger(__name__)

JITTER = 0.1
_target: tuple | None = None  # (scheduler, the declared jobs' callable, job store alias)


def retry_delay_seconds(*, backoff_seconds: float, failed_attempt: int, rng=random) -> float:
    """Seconds to wait after attempt ``failed_attempt`` (1-based) failed."""
    base = backoff_seconds * 2 ** (failed_attempt - 1)
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def retry_target_set(scheduler=None, func=None, jobstore: str = "") -> None:
    """Where retries go: the active scheduler (None when it stops)."""
    global _target
    _target = (scheduler, func, jobstore) if scheduler is not None else None


def retries_possible() -> bool:
    return _target is not None


def retry_schedule(
    *, job_id: str, trigger: str, failed_attempt: int, first_run: int | None, params, backoff
) -> bool:
    """Add the next attempt as a one-off job after the backoff; False without a scheduler."""
    target = _target
    if target is None:
        return False
    scheduler, func, jobstore = target
    delay = retry_delay_seconds(backoff_seconds=backoff, failed_attempt=failed_attempt)
    scheduler.add_job(
        func,
        trigger="date",
        run_date=timezone.now() + timedelta(seconds=delay),
        args=[job_id, trigger],
        kwargs={"attempt": failed_attempt + 1, "retry_of": first_run, "params": params},
        id=f"retry-{job_id}-{first_run}-{failed_attempt + 1}",
        name=f"{job_id} (attempt {failed_attempt + 1})",
        jobstore=jobstore,
        misfire_grace_time=None,
        replace_existing=True,
    )
    logger.info("Job %s: attempt %s in %.1fs", job_id, failed_attempt + 1, delay)
    return True
