"""Notification channels: settings-declared ones kept in sync, routing, and the senders.

A sender takes one rendered outbox payload and delivers it once, raising ``DeliveryError``
(with the HTTP status when there was one) on anything but success. Webhooks are signed:
``X-Signature: sha256=<hex HMAC-SHA256 of "<X-Timestamp>.<body>" with the channel secret>``,
so a receiver can check both the body and its age (replay).
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives
from django.db.models import F, QuerySet
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.models import ChannelKind, NotificationChannel
from scheduler_monitor.notification_messages import test_payload

USER_AGENT = "scheduler-monitor-notifier/1"


class DeliveryError(Exception):
    """A try failed; ``status_code`` is the receiver's HTTP status when it answered."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Delivered:
    status_code: int | None = None


def notification_channels_sync() -> list[NotificationChannel]:
    """Upsert NOTIFICATION_CHANNELS as rows (``from_settings``); disable ones removed since."""
    declared = conf.get("NOTIFICATION_CHANNELS") or []
    names = []
    for spec in declared:
        defaults = {
            "kind": spec["kind"],
            "target": spec["target"],
            "secret": spec.get("secret", ""),
            "language": spec.get("language", "en"),
            "severities": list(spec.get("severities", [])),
            "categories": list(spec.get("categories", [])),
            "jobs": list(spec.get("jobs", [])),
            "rules": list(spec.get("rules", [])),
            "enabled": spec.get("enabled", True),
            "from_settings": True,
        }
        NotificationChannel.objects.update_or_create(name=spec["name"], defaults=defaults)
        names.append(spec["name"])
    NotificationChannel.objects.filter(from_settings=True).exclude(name__in=names).update(
        enabled=False
    )
    return list(NotificationChannel.objects.filter(name__in=names))


def enabled_channels() -> list[NotificationChannel]:
    return list(NotificationChannel.objects.filter(enabled=True))


def channels_for(incident, channels: list[NotificationChannel]) -> list[NotificationChannel]:
    """The channels whose filters select ``incident``."""
    return [channel for channel in channels if channel.takes(incident)]


# --- senders --------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, max_age: float = 300
) -> bool:
    """What a receiver does: check the signature, and that the timestamp is recent."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= max_age and hmac.compare_digest(sign(secret, timestamp, body), signature)


def post_json(url: str, body: dict, headers: dict, timeout: float) -> Delivered:
    """POST ``body`` as JSON; any status but 2xx, or no answer, raises DeliveryError."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return post_bytes(url, data, headers, timeout)


def post_bytes(url: str, data: bytes, headers: dict, timeout: float) -> Delivered:
    request = urllib.request.Request(  # noqa: S310 - the URL is checked to be http(s)
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Delivered(status_code=response.status)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", status_code=exc.code) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc


def send_webhook(channel: NotificationChannel, payload: dict, idempotency_key: str, timeout):
    data = json.dumps(payload["body"], ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"X-Timestamp": timestamp, "Idempotency-Key": idempotency_key}
    if channel.secret:
        headers["X-Signature"] = sign(channel.secret, timestamp, data)
    return post_bytes(channel.target, data, headers, timeout)


def send_slack(channel: NotificationChannel, payload: dict, idempotency_key: str, timeout):
    return post_json(channel.target, payload["body"], {}, timeout)


def send_pagerduty(channel: NotificationChannel, payload: dict, idempotency_key: str, timeout):
    # The routing key is the channel's secret: kept out of the stored outbox payload.
    return post_json(
        channel.target, {**payload["body"], "routing_key": channel.secret}, {}, timeout
    )


def send_email(channel: NotificationChannel, payload: dict, idempotency_key: str, timeout):
    recipients = [address.strip() for address in channel.target.split(",") if address.strip()]
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["text"],
        to=recipients,
        headers={"X-Idempotency-Key": idempotency_key},
    )
    message.attach_alternative(payload["html"], "text/html")
    try:
        message.send()
    except (OSError, ValueError) as exc:  # smtplib errors are OSErrors
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    return Delivered()


SENDERS = {
    ChannelKind.EMAIL: send_email,
    ChannelKind.WEBHOOK: send_webhook,
    ChannelKind.SLACK: send_slack,
    ChannelKind.PAGERDUTY: send_pagerduty,
}


def channel_send(channel: NotificationChannel, payload: dict, idempotency_key: str) -> Delivered:
    """Deliver one rendered payload through the channel (raises DeliveryError)."""
    timeout = conf.get("NOTIFICATION_TIMEOUT")
    return SENDERS[channel.kind](channel, payload, idempotency_key, timeout)


def channel_test_send(channel: NotificationChannel) -> str | None:
    """Send a test message now; return the error (None: delivered) and record it on the row."""
    key = f"test-{channel.pk}-{int(time.time() * 1000)}"
    try:
        channel_send(channel, test_payload(channel), key)
    except DeliveryError as exc:
        channel_outcome_record(channel, error=str(exc))
        return str(exc)
    channel_outcome_record(channel, error=None)
    return None


def channel_outcome_record(
    channel: NotificationChannel, *, error: str | None, count: bool = False
) -> None:
    """Note the channel's last success or last error (shown in the admin).

    ``count``: an outbox delivery try, added to the channel's monotonic counters.
    """
    now = timezone.now()
    if error is None:
        updates = {"last_sent_at": now}
        if count:
            updates["delivered_count"] = F("delivered_count") + 1
    else:
        updates = {"last_error": error[:2000], "last_error_at": now}
        if count:
            updates["failed_count"] = F("failed_count") + 1
    NotificationChannel.objects.filter(pk=channel.pk).update(**updates)


def channels_with_errors() -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.exclude(last_error="")
