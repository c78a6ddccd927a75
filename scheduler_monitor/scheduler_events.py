"""The scheduler's own events (database outages, scheduler gaps) and degraded-record counts."""

import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db.models import F
from django.utils import timezone

from scheduler_monitor.models import RecordDegradation, SchedulerEvent, SchedulerEventKind

RECENT_EVENTS = 10
HOSTNAME = socket.gethostname()


def event_record(
    *,
    kind: str,
    started_at: datetime,
    ended_at: datetime,
    message: str,
    missed_runs: int = 0,
    pid: int | None = None,
) -> SchedulerEvent:
    """Store one event: ``kind`` from ``started_at`` to ``ended_at``."""
    return SchedulerEvent.objects.create(
        kind=kind,
        started_at=started_at,
        ended_at=ended_at,
        message=message,
        missed_runs=missed_runs,
        hostname=HOSTNAME,
        pid=pid,
    )


def database_outage_record(*, started_at: datetime, ended_at: datetime, pid: int):
    seconds = (ended_at - started_at).total_seconds()
    return event_record(
        kind=SchedulerEventKind.DATABASE_UNREACHABLE,
        started_at=started_at,
        ended_at=ended_at,
        pid=pid,
        message=(
            f"Could not reach the database from {_iso(started_at)} to {_iso(ended_at)} "
            f"({seconds:.0f}s)"
        ),
    )


def recent_events(*, limit: int = RECENT_EVENTS) -> list[SchedulerEvent]:
    """The latest events, newest first."""
    return list(SchedulerEvent.objects.order_by("-started_at", "-id")[:limit])


def event_as_dict(event: SchedulerEvent) -> dict:
    return {
        "kind": event.kind,
        "started_at": _iso(event.started_at),
        "ended_at": _iso(event.ended_at),
        "duration_seconds": round((event.ended_at - event.started_at).total_seconds(), 3),
        "missed_runs": event.missed_runs,
        "hostname": event.hostname,
        "pid": event.pid,
        "message": event.message,
    }


def degraded_records_count(reasons: Iterable[str]) -> None:
    """Count one degraded record under each of ``reasons`` (monotonic; call in the write's
    transaction so the count and the row change together)."""
    now = timezone.now()
    for reason in dict.fromkeys(reasons):
        updated = RecordDegradation.objects.filter(reason=reason).update(
            count=F("count") + 1, last_at=now
        )
        if not updated:
            _, created = RecordDegradation.objects.get_or_create(
                reason=reason, defaults={"count": 1, "last_at": now}
            )
            if not created:
                RecordDegradation.objects.filter(reason=reason).update(
                    count=F("count") + 1, last_at=now
                )


def degraded_records_counts() -> dict[str, int]:
    """Degraded records so far, per reason."""
    return dict(RecordDegradation.objects.values_list("reason", "count"))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def abandoned_at_stop_record(*, started_at: datetime, runs: int, timeout: float | None):
    """Record that a stopping scheduler gave up on ``runs`` running job(s)."""
    waited = f" after waiting {timeout}s" if timeout is not None else " at once"
    return event_record(
        kind=SchedulerEventKind.ABANDONED_AT_STOP,
        started_at=started_at,
        ended_at=timezone.now(),
        pid=os.getpid(),
        message=f"Scheduler stopped{waited}; {runs} running job(s) abandoned",
    )
