"""Make a run record storable before it reaches the database, and tell its faults apart.

A record the database refuses for its content must never block the records behind it.
What can be repaired is repaired here, at the edge: characters no database text column
can hold (NUL; lone UTF-16 surrogates, which cannot be encoded as UTF-8) are replaced,
and measurements that are not finite numbers (nan, inf, which no JSON column accepts)
are dropped, each with a warning. What the database still refuses is classified: a
connection fault is retried later, a fault of the record's content never is.
"""

import logging
import math
import re
from dataclasses import replace

from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_EXCEPTION_NAME = re.compile(r"([A-Za-z_][\w.]{0,99}):")

# Reasons a record was stored other than as the job produced it (the counter's label).
TEXT_REPLACED = "text_replaced"
MEASUREMENT_DROPPED = "measurement_dropped"
REJECTED = "rejected_by_database"
RETRIES_EXHAUSTED = "retries_exhausted"
LOST = "lost"

CONNECTION_FAULT = "connection"
CONTENT_FAULT = "content"

# SQLite and PostgreSQL lock faults: the database is busy, the record is not at fault.
_LOCK_MESSAGES = ("database is locked", "database table is locked", "lock timeout")


def clean_text(text: str) -> str:
    """Return ``text`` with characters no database can store replaced by U+FFFD."""
    if not text or not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def clean_measurements(measurements: dict) -> tuple[dict, list[str]]:
    """Return the finite measurements (names cleaned) and the names of those dropped."""
    kept: dict[str, float] = {}
    dropped: list[str] = []
    for name, value in measurements.items():
        name = clean_text(str(name))
        try:
            number = float(value)
        except (TypeError, ValueError):
            dropped.append(name)
            continue
        if math.isfinite(number):
            kept[name] = number
        else:
            dropped.append(name)
    return kept, dropped


def sanitised(record):
    """Return ``record`` (a ``FinishedRun``) as the database can store it.

    Replaced text and dropped measurements are logged once per record and named in
    ``record.degraded``, so the write can count them.
    """
    reasons = list(record.degraded)
    error, tb = clean_text(record.error), clean_text(record.traceback)
    if error != record.error or tb != record.traceback:
        logger.warning(
            "Run of %s: replaced characters the database cannot store in its error text",
            record.job_id,
        )
        reasons.append(TEXT_REPLACED)
    measurements, dropped = clean_measurements(record.measurements)
    if dropped:
        logger.warning(
            "Run of %s: dropped non-finite or non-numeric measurement(s) %s",
            record.job_id,
            ", ".join(sorted(dropped))[:500],
        )
        reasons.append(MEASUREMENT_DROPPED)
    elif measurements != record.measurements:  # only names were cleaned
        reasons.append(TEXT_REPLACED)
    if len(reasons) == len(record.degraded):
        return record
    return replace(
        record,
        error=error,
        traceback=tb,
        measurements=measurements,
        degraded=tuple(dict.fromkeys(reasons)),
    )


def minimal(record, reason: str, exc: BaseException):
    """Return the record reduced to what any database stores: status, timing, job."""
    # Not even the error's first line: it may be what the database refuses. The
    # exception's type name is plain identifier characters and safe to keep.
    kind = _EXCEPTION_NAME.match(record.error or "")
    note = f"[scheduler_monitor: the database refused this record ({type(exc).__name__}); "
    note += "its error text, traceback and measurements were not stored]"
    return replace(
        record,
        error=f"{kind.group(1)}\n{note}" if kind else note,
        traceback="",
        measurements={},
        hostname=clean_text(record.hostname)[:255],
        pid=record.pid if isinstance(record.pid, int) and 0 <= record.pid < 2**31 else None,
        degraded=(*record.degraded, reason),
    )


def is_lock_fault(exc: BaseException) -> bool:
    """Whether ``exc`` says another transaction holds a lock the write needs."""
    message = str(exc).lower()
    return any(text in message for text in _LOCK_MESSAGES)


def fault_of(exc: BaseException) -> str:
    """``CONNECTION_FAULT`` if retrying later may succeed, else ``CONTENT_FAULT``.

    A lost, refused or locked connection (OperationalError, InterfaceError, a lock
    timeout) is the database's state; anything else the write raised (DataError,
    IntegrityError, ValueError from a driver or JSON encoding, OverflowError, ...) comes
    from the record and fails the same way every time.
    """
    if isinstance(exc, (OperationalError, InterfaceError)):
        return CONNECTION_FAULT
    return CONNECTION_FAULT if is_lock_fault(exc) else CONTENT_FAULT
