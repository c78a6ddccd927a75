"""Write a record now, or keep it for later; a record at fault never blocks the others.

Every write of a finished run goes through ``store``. A connection fault (the database is
down, restarting or locked) keeps the record in the bounded ``RecordBuffer``, retried in
order once the database takes writes again. A fault of the record's content (DataError,
IntegrityError, a driver's ValueError, ...) is never retried: the run is written as a
minimal record (job, status, timing), counted in ``RecordDegradation`` and logged once.
A record that keeps failing with what looks like a connection fault while the database
takes other writes is degraded the same way after ``MAX_ATTEMPTS`` tries.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from scheduler_monitor import database_outages, scheduler_events
from scheduler_monitor.record_sanitising import (
    CONNECTION_FAULT,
    LOST,
    REJECTED,
    RETRIES_EXHAUSTED,
    fault_of,
    is_lock_fault,
    minimal,
)

logger = logging.getLogger(__name__)

# Tries of one record while the database takes writes; a real outage does not count.
MAX_ATTEMPTS = 5

WRITTEN = "written"
RETRY = "retry"  # failed while the database takes writes: counts towards MAX_ATTEMPTS
OUTAGE = "outage"  # failed while the database is unreachable or locked: does not count
DEGRADED = "degraded"
DROPPED = "dropped"


def discard_broken_connection() -> None:
    """Close this thread's connection so the next attempt opens a fresh one.

    Inside a caller's transaction the connection is left alone: closing it would break
    the caller, and ``atomic`` already marks the transaction for rollback.
    """
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close too
        logger.debug("Closing a broken connection failed", exc_info=True)


def database_writable(*, failing_since=None) -> bool:
    """Whether the database takes a write now (SQLite: its write lock is free).

    ``failing_since``: when the operation that just failed began, the outage's start.
    """
    if connection.in_atomic_block:
        return True
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                # Take the write lock and give it back: a lock held by another process
                # fails here after the busy timeout, as the record's write would.
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute("ROLLBACK")
            else:
                cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not now"
        discard_broken_connection()
        logger.debug("Database not writable: %s", exc)
        database_outages.note_unreachable(failing_since)
        return False
    database_outages.note_reachable()
    return True


def _write_counted(write: Callable, record) -> None:
    """Write the record; a degraded one in one transaction with its count."""
    if not record.degraded:
        write(record)
        return
    with transaction.atomic():
        write(record)
        scheduler_events.degraded_records_count(record.degraded)


def store(write: Callable, record, *, attempts: int = 0) -> tuple[str, object]:
    """Try to write ``record`` once; return (outcome, the record to keep if not written).

    ``attempts``: how many earlier tries failed while the database took writes.
    """
    started = timezone.now()
    try:
        _write_counted(write, record)
    except Exception as exc:  # noqa: BLE001 - classified below; nothing escapes a job's run
        if fault_of(exc) == CONNECTION_FAULT:
            discard_broken_connection()
            if is_lock_fault(exc):
                database_outages.note_unreachable(started)
                return OUTAGE, record
            if not database_writable(failing_since=started):
                return OUTAGE, record
            if attempts + 1 < MAX_ATTEMPTS:
                return RETRY, record
            reason = RETRIES_EXHAUSTED
        else:
            reason = REJECTED
        return _store_minimal(write, record, reason, exc)
    database_outages.note_reachable()
    return WRITTEN, record


def _store_minimal(write: Callable, record, reason: str, exc: BaseException):
    if reason in record.degraded:  # already the minimal record: give up on it
        logger.error(
            "Run of %s could not be stored even without its details (%s: %s); dropped",
            record.job_id,
            type(exc).__name__,
            str(exc)[:300],
        )
        _count_lost()
        return DROPPED, record
    reduced = minimal(record, reason, exc)
    logger.error(
        "Run of %s (%s) refused by the database (%s: %s); storing it without its error "
        "text, traceback and measurements",
        record.job_id,
        record.status,
        type(exc).__name__,
        str(exc).splitlines()[0][:300] if str(exc) else "",
    )
    try:
        _write_counted(write, reduced)
    except Exception as again:  # noqa: BLE001
        if fault_of(again) == CONNECTION_FAULT:
            discard_broken_connection()
            return OUTAGE, reduced
        logger.error("Run of %s dropped: %s", record.job_id, str(again)[:300])
        _count_lost()
        return DROPPED, reduced
    return DEGRADED, reduced


def _count_lost() -> None:
    try:
        scheduler_events.degraded_records_count([LOST])
    except Exception:  # noqa: BLE001 - counting must not raise into a job's run
        logger.exception("Could not count a lost run record")


@dataclass
class Pending:
    record: object
    attempts: int = 0
    first_failed_at: object = None
    tries: int = 1  # every write of it, the one that first failed included


class RecordBuffer:
    """Finished records the database refused for a connection fault; bounded, in order."""

    def __init__(self, maxlen: int):
        self._pending: deque[Pending] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, record, *, attempts: int = 0) -> None:
        with self._lock:
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
                logger.error(
                    "Run record buffer full (%s records): dropping the oldest; %s dropped so far",
                    self._pending.maxlen,
                    self.dropped,
                )
            self._pending.append(Pending(record, attempts, timezone.now()))

    def records(self) -> list:
        with self._lock:
            return [p.record for p in self._pending]

    def flush(self, write: Callable) -> int:
        """Write buffered records oldest first; stop while the database is unreachable.

        One thread flushes at a time; another thread's call returns 0 at once. Before a
        record that failed is tried again, a probe checks the database takes writes, so
        an outage costs one probe per call, not one failed write per record.
        """
        if not self._flushing.acquire(blocking=False):
            return 0
        written = 0
        try:
            if self._pending and not database_writable():
                return 0
            while True:
                with self._lock:
                    if not self._pending:
                        break
                    entry = self._pending[0]
                outcome, record = store(write, entry.record, attempts=entry.attempts)
                entry.tries += 1
                if outcome in (RETRY, OUTAGE):
                    entry.record = record
                    entry.attempts += outcome == RETRY
                    logger.warning(
                        "Run record of %s not written (try %s); %s run record(s) buffered",
                        record.job_id,
                        entry.tries,
                        len(self),
                    )
                    break
                with self._lock:
                    if self._pending and self._pending[0] is entry:
                        self._pending.popleft()
                written += 1
        finally:
            self._flushing.release()
        if written:
            logger.info("Wrote %s buffered run records", written)
        return written


# -- other writes of the scheduler (trigger requests): the same rule, no ordering ----------


@dataclass
class PendingWrite:
    what: str
    write: Callable[[], object]
    fallback: Callable[[], object] | None
    attempts: int = 0


_pending_writes: deque[PendingWrite] = deque(maxlen=1000)
_pending_lock = threading.Lock()


def guarded_write(what: str, write: Callable[[], object], fallback=None) -> bool:
    """Run one small write now; on a connection fault keep it for ``retry_writes()``.

    On a fault of its content it is never retried: ``fallback`` (the same write without
    the offending text) runs instead, and the record is counted as degraded.
    """
    return _attempt(PendingWrite(what, write, fallback))


def _attempt(pending: PendingWrite) -> bool:
    started = timezone.now()
    try:
        pending.write()
    except Exception as exc:  # noqa: BLE001 - classified below
        if fault_of(exc) == CONNECTION_FAULT:
            discard_broken_connection()
            writable = not is_lock_fault(exc) and database_writable(failing_since=started)
            if is_lock_fault(exc):
                database_outages.note_unreachable(started)
            pending.attempts += writable
            if pending.attempts < MAX_ATTEMPTS:
                logger.warning("Could not write %s (%s); will retry", pending.what, exc)
                with _pending_lock:
                    _pending_writes.append(pending)
                return False
        logger.error(
            "The database refused %s (%s: %s)%s",
            pending.what,
            type(exc).__name__,
            str(exc).splitlines()[0][:300] if str(exc) else "",
            "; writing it without its text" if pending.fallback else "; dropped",
        )
        if pending.fallback is None:
            _count_lost()
            return False
        return _attempt(
            PendingWrite(
                pending.what,
                lambda: _fallback_counted(pending.fallback),
                None,
                pending.attempts,
            )
        )
    database_outages.note_reachable()
    return True


def _fallback_counted(fallback: Callable[[], object]) -> None:
    with transaction.atomic():
        fallback()
        scheduler_events.degraded_records_count([REJECTED])


def reset() -> None:
    """Forget the kept writes (tests, a new process)."""
    with _pending_lock:
        _pending_writes.clear()


def retry_writes() -> int:
    """Retry the writes kept for a connection fault, oldest first; return how many held."""
    with _pending_lock:
        pending = list(_pending_writes)
        _pending_writes.clear()
    done = 0
    for index, item in enumerate(pending):
        if not _attempt(item):
            with _pending_lock:  # the rest wait for the next call, in order
                _pending_writes.extend(pending[index + 1 :])
            break
        done += 1
    return done
