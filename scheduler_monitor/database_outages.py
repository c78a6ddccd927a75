"""Notice when this process could not reach the database, and record it once it can.

The write path and the scheduler's maintenance step report each failure and success
here. The first failure opens an outage; the next success closes it and stores it as a
``SchedulerEvent`` ("could not reach the database from T1 to T2"), so the status API and
the dashboard show the time no run could be recorded or started.
"""

import logging
import os
import threading
from datetime import datetime

from django.utils import timezone

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_since: datetime | None = None
_unsaved: list[tuple[datetime, datetime]] = []


def note_unreachable(at: datetime | None = None) -> None:
    """A database operation failed for a connection fault."""
    global _since
    if _since is not None:
        return
    with _lock:
        if _since is None:
            _since = at or timezone.now()
            logger.warning("Database unreachable since %s", _since.isoformat())


def note_reachable(at: datetime | None = None) -> None:
    """A database operation succeeded: close an open outage and store it."""
    global _since
    if _since is None and not _unsaved:
        return
    with _lock:
        if _since is not None:
            ended = at or timezone.now()
            logger.warning(
                "Database reachable again: unreachable from %s to %s (%.1fs)",
                _since.isoformat(),
                ended.isoformat(),
                (ended - _since).total_seconds(),
            )
            _unsaved.append((_since, ended))
            _since = None
        pending = list(_unsaved)
        _unsaved.clear()
    for started, ended in pending:
        _save(started, ended)


def open_since() -> datetime | None:
    """When the current outage began, or None."""
    return _since


def reset() -> None:
    """Forget any open outage (tests, a new process)."""
    global _since
    with _lock:
        _since = None
        _unsaved.clear()


def _save(started: datetime, ended: datetime) -> None:
    from scheduler_monitor import scheduler_events

    try:
        scheduler_events.database_outage_record(started_at=started, ended_at=ended, pid=os.getpid())
    except Exception:  # noqa: BLE001 - kept and stored at the next success
        logger.warning("Could not store the outage event yet; will retry", exc_info=True)
        with _lock:
            _unsaved.append((started, ended))
