"""The notification outbox: messages written with incident changes, delivered with retries.

Rows are written in the same transaction as the incident change (``outbox_enqueue``), so a
committed change always has its messages and a rolled-back one has none. The sender thread
of the active scheduler drains due rows: it claims one with a conditional update that also
pushes its due time past the send timeout, so a sender that dies mid-send leaves the row to
be retried by the next one, and two senders never send the same row at once. Each try is
a ``DeliveryAttempt`` row; after ``len(NOTIFICATION_RETRY_DELAYS) + 1`` failed tries the
message is ``failed``. Delivery is at least once: a sender killed after the receiver got a
message but before marking it sent delivers it again, with the same ``Idempotency-Key``.
"""

import logging
import threading
import time
from datetime import datetime, timedelta

from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.models import (
    DeliveryAttempt,
    NotificationChannel,
    OutboxMessage,
    OutboxState,
)
from scheduler_monitor.notification_channels import (
    DeliveryError,
    channel_outcome_record,
    channel_send,
)
from scheduler_monitor.recording import DB_ERRORS

logger = logging.getLogger(__name__)

# Added to the send timeout while a row is claimed: a dead sender's row waits this long.
CLAIM_MARGIN_SECONDS = 5
DRAIN_POLL_SECONDS = 1.0
MAX_PER_PASS = 100


def outbox_enqueue(*, channel, incident, event, payload: dict, now: datetime) -> OutboxMessage:
    """Queue one message (call inside the transaction of the incident change)."""
    return OutboxMessage.objects.create(
        channel=channel,
        incident=incident,
        event=event,
        idempotency_key=f"incident-{incident.pk}-event-{event.pk}-channel-{channel.pk}",
        payload=payload,
        created_at=now,
        next_attempt_at=now,
    )


def outbox_claim(*, now: datetime | None = None, exclude=()) -> OutboxMessage | None:
    """Claim the most overdue pending message (not in ``exclude``), or None when none is due."""
    now = now or timezone.now()
    hold = timedelta(seconds=conf.get("NOTIFICATION_TIMEOUT") + CLAIM_MARGIN_SECONDS)
    for _ in range(5):  # another sender may win a row; try the next one
        due = (
            OutboxMessage.objects.filter(state=OutboxState.PENDING, next_attempt_at__lte=now)
            .exclude(pk__in=list(exclude))
            .order_by("next_attempt_at", "id")
            .values_list("pk", "attempts")
            .first()
        )
        if due is None:
            return None
        pk, attempts = due
        won = OutboxMessage.objects.filter(
            pk=pk, state=OutboxState.PENDING, attempts=attempts
        ).update(attempts=F("attempts") + 1, next_attempt_at=now + hold)
        if won:
            return OutboxMessage.objects.select_related("channel").get(pk=pk)
    return None


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next try after ``attempts`` tries (None: give up)."""
    delays = conf.get("NOTIFICATION_RETRY_DELAYS")
    return delays[attempts - 1] if attempts <= len(delays) else None


def outbox_deliver(message: OutboxMessage) -> bool:
    """Try a claimed message once; record the attempt and its outcome. True: delivered."""
    if not message.channel.enabled:
        # Disabled after the message was queued: drop it, saying why (no try is made).
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=OutboxState.FAILED, last_error="channel disabled"
        )
        return False
    started = timezone.now()
    clock = time.perf_counter()
    status_code, error = None, ""
    try:
        status_code = channel_send(message.channel, message.payload, message.idempotency_key)
        status_code = status_code.status_code
    except DeliveryError as exc:
        error, status_code = str(exc), exc.status_code
    except Exception as exc:  # noqa: BLE001 - a bad channel must not stop the sender
        logger.exception("Sending outbox message %s failed", message.pk)
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = (time.perf_counter() - clock) * 1000
    DeliveryAttempt.objects.create(
        message=message,
        number=message.attempts,
        started_at=started,
        duration_ms=duration_ms,
        ok=not error,
        status_code=status_code,
        error=error[:2000],
    )
    now = timezone.now()
    if not error:
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=OutboxState.SENT, sent_at=now, last_error=""
        )
        channel_outcome_record(message.channel, error=None, count=True)
        return True
    delay = retry_delay(message.attempts)
    if delay is None:
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=OutboxState.FAILED, last_error=error[:2000]
        )
        logger.error(
            "Gave up on message %s after %s tries: %s", message.pk, message.attempts, error
        )
    else:
        OutboxMessage.objects.filter(pk=message.pk).update(
            next_attempt_at=now + timedelta(seconds=delay), last_error=error[:2000]
        )
    channel_outcome_record(message.channel, error=error, count=True)
    return False


def outbox_drain(*, now: datetime | None = None, limit: int = MAX_PER_PASS) -> int:
    """Try every due message once (at most ``limit``); return how many were tried."""
    tried: set[int] = set()
    while len(tried) < limit:
        message = outbox_claim(now=now, exclude=tried)
        if message is None:
            break
        outbox_deliver(message)
        tried.add(message.pk)
    return len(tried)


def outbox_pending_count() -> int:
    return OutboxMessage.objects.filter(state=OutboxState.PENDING).count()


def channel_messages(channel: NotificationChannel):
    return OutboxMessage.objects.filter(channel=channel)


class OutboxSender:
    """The sender thread: drains the outbox every second, or at once when woken."""

    def __init__(self):
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="scheduler-monitor-outbox", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Drain now (new messages were committed)."""
        self._wake.set()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(DRAIN_POLL_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                close_old_connections()
                outbox_drain()
            except DB_ERRORS as exc:
                logger.warning("Outbox drain failed, will retry: %s", exc)
                close_old_connections()
            except Exception:  # noqa: BLE001 - the sender must outlive any single failure
                logger.exception("Outbox drain failed")
        connection.close()
