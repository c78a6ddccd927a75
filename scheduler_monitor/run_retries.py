"""Retries of failed runs: how long to wait before each attempt.

A failed run of a job declared with ``retries=N`` is run again up to N times, each
attempt a new run scheduled in the scheduler (a one-off date job, never a sleep in the
worker thread) after ``retry_backoff_seconds x 2^(attempt-1)``, give or take 10 % jitter
so that jobs failing together do not retry in lockstep.
"""

import random

JITTER = 0.1


def retry_delay_seconds(*, backoff_seconds: float, failed_attempt: int, rng=random) -> float:
    """Seconds to wait after attempt ``failed_attempt`` (1-based) failed."""
    base = backoff_seconds * 2 ** (failed_attempt - 1)
    return base * rng.uniform(1 - JITTER, 1 + JITTER)
