"""Scheduled times that passed without a run: recorded as one ``missed`` run per job per gap.

APScheduler coalesces the fire times a job missed (the database was down, SQLite's write
lock was held elsewhere, the scheduler was busy) into one late run, and a scheduler that
takes over from a dead one starts each job afresh: either way those times left no trace.
Here they are counted from the job's trigger and recorded as one ``missed`` run per job
and gap, its ``scheduled_at`` the first missed time, the number of missed times in its
measurements (``missed_fire_times``) and error text.
"""

import bisect
import logging
import os
import threading
from collections import deque
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger
from django.utils import timezone

logger = logging.getLogger(__name__)

# Counting stops here: a gap of more fire times says so in its text ("at least").
MAX_COUNTED = 100_000
MEASUREMENT = "missed_fire_times"
UNTIL = "missed_until"  # the last missed time, Unix seconds


def fire_times_between(trigger, first: datetime, end: datetime) -> tuple[int, datetime | None]:
    """Count the trigger's fire times in [first, end), ``first`` being one of them.

    Returns the count and the last of those times.
    """
    if first is None or first >= end:
        return 0, None
    if isinstance(trigger, IntervalTrigger):
        step = trigger.interval.total_seconds()
        if step > 0:
            span = (end - first).total_seconds()
            count = int(span // step) + (1 if span % step else 0)
            count = max(count, 1)
            return count, first + timedelta(seconds=step * (count - 1))
    count, last, moment = 0, None, first
    while moment is not None and moment < end and count < MAX_COUNTED:
        count, last = count + 1, moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return count, last


class GapRecorder:
    """Finds gaps where the scheduler submits a job; the maintenance thread stores them."""

    def __init__(self):
        self._found: deque = deque(maxlen=10_000)
        self._lock = threading.Lock()

    def on_submit(self, job, run_times: list[datetime]) -> None:
        """Executor hook, in the scheduler's loop before a run is handed over.

        ``job.next_run_time`` is still the first due time; APScheduler passes only the
        last one when it coalesces, so the times from the first up to the passed one were
        skipped. Pure computation: storing is left to ``store_found``.
        """
        first_due = getattr(job, "next_run_time", None)
        if not run_times or first_due is None:
            return
        count, last = fire_times_between(job.trigger, first_due, run_times[0])
        if count:
            self.found(job.id, first_due, last, count, cause="the scheduler could not run it")

    def found(self, job_id: str, first: datetime, last: datetime, count: int, *, cause: str):
        with self._lock:
            self._found.append((job_id, first, last, count, cause))

    def store_found(self) -> int:
        """Record every gap found so far as a ``missed`` run; return how many."""
        from scheduler_monitor.recording import get_recorder

        with self._lock:
            found = list(self._found)
            self._found.clear()
        for job_id, first, last, count, cause in found:
            get_recorder().save(gap_record(job_id, first, last, count, cause))
        return len(found)


def gap_record(job_id: str, first: datetime, last: datetime, count: int, cause: str):
    """The ``missed`` record of one job's gap of ``count`` scheduled times."""
    from scheduler_monitor.models import RunStatus
    from scheduler_monitor.recording import FinishedRun

    at_least = "at least " if count >= MAX_COUNTED else ""
    logger.warning(
        "Job %s: %s%s scheduled time(s) from %s to %s passed without a run (%s)",
        job_id,
        at_least,
        count,
        first.isoformat(),
        last.isoformat(),
        cause,
    )
    return FinishedRun(
        job_id=job_id,
        status=RunStatus.MISSED,
        scheduled_at=first,
        finished_at=timezone.now(),
        error=(
            f"{at_least}{count} scheduled time(s) from {_iso(first)} to {_iso(last)} "
            f"passed without a run: {cause}"
        ),
        measurements={MEASUREMENT: float(count), UNTIL: last.timestamp()},
        pid=os.getpid(),
    )


def record_takeover(dead, instance, left: dict, first_runs: dict, now: datetime) -> int:
    """Record the scheduled times no scheduler ran between a dead lease holder's last
    heartbeat and this takeover: a ``missed`` run per job, one SchedulerEvent.

    ``left``: job id -> the next run time the dead holder left in the job store;
    ``first_runs``: job id -> (trigger, first run time under this instance). Returns the
    number of missed scheduled times.
    """
    from scheduler_monitor.models import SchedulerEventKind
    from scheduler_monitor.recording import get_recorder
    from scheduler_monitor.scheduler_events import event_record

    total = 0
    for job_id, (trigger, first_run) in first_runs.items():
        until = max(first_run or now, now)
        count, last = fire_times_between(trigger, left.get(job_id), until)
        if count:
            total += count
            get_recorder().save(
                gap_record(job_id, left[job_id], last, count, "no scheduler was running")
            )
    event_record(
        kind=SchedulerEventKind.NO_SCHEDULER,
        started_at=min(dead.heartbeat_at, now),
        ended_at=now,
        missed_runs=total,
        pid=os.getpid(),
        message=(
            f"No scheduler ran jobs from {_iso(dead.heartbeat_at)} to {_iso(now)}: "
            f"instance {dead} stopped heartbeating and {instance} took over; "
            f"{total} scheduled time(s) missed"
        ),
    )
    return total


def missed_times_per_job(*, since: datetime) -> dict[int, int]:
    """Scheduled times missed since ``since``, per job pk: each gap counts its times, any
    other missed run one (the failure ratio counts them as runs that did not happen)."""
    from scheduler_monitor.models import JobRun, RunStatus

    rows = (
        JobRun.objects.filter(status=RunStatus.MISSED, scheduled_at__gte=since)
        .order_by()
        .values_list("job_id", "measurements")
    )
    missed: dict[int, int] = {}
    for job_pk, measurements in rows:
        count = (measurements or {}).get(MEASUREMENT, 1)
        missed[job_pk] = missed.get(job_pk, 0) + max(int(count), 1)
    return missed


def missed_times_per_job_and_bucket(edges: list[datetime]) -> dict[int, list[int]]:
    """Missed scheduled times of each job (by pk) in each interval [edges[i], edges[i+1]).

    A gap's times are spread evenly from its first to its last missed time (exact for an
    interval trigger); any other missed run counts once at its scheduled time.
    """
    from scheduler_monitor.models import JobRun, RunStatus

    intervals = len(edges) - 1
    start, end = edges[0], edges[-1]
    rows = (
        JobRun.objects.filter(status=RunStatus.MISSED, scheduled_at__lt=end)
        .filter(scheduled_at__gte=start - timedelta(days=1))  # a gap may reach into range
        .order_by()
        .values_list("job_id", "scheduled_at", "measurements")
    )
    counts: dict[int, list[int]] = {}
    for job_pk, first, measurements in rows:
        measurements = measurements or {}
        count = max(int(measurements.get(MEASUREMENT, 1)), 1)
        until = measurements.get(UNTIL)
        step = 0.0
        if count > 1 and until is not None:
            step = (until - first.timestamp()) / (count - 1)
        for k in range(min(count, MAX_COUNTED)):
            moment = first + timedelta(seconds=step * k)
            if not start <= moment < end:
                continue
            index = _bucket_index(edges, moment)
            counts.setdefault(job_pk, [0] * intervals)[index] += 1
    return counts


def _bucket_index(edges: list[datetime], moment: datetime) -> int:
    return bisect.bisect_right(edges, moment) - 1


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
