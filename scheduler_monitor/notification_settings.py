"""The notification settings of ``SCHEDULER_MONITOR`` and their checks (``conf.validate``)."""

from collections.abc import Callable
from typing import Any

DEFAULT_RETRY_DELAYS = (30, 120)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


NOTIFICATION_CHANNEL_KINDS = ("email", "webhook", "slack", "pagerduty")
NOTIFICATION_LANGUAGES = ("en", "zh-hans")
NOTIFICATION_CHANNEL_KEYS = {
    "name",  # unique; the admin shows it as a channel "from settings"
    "kind",  # "email", "webhook" or "slack"
    "target",  # URL, or comma-separated email addresses
    "secret",  # webhook signing key
    "language",  # "en" or "zh-hans"
    "severities",  # the filters: lists; empty or absent takes everything
    "categories",
    "jobs",
    "rules",
    "enabled",
}


def validate_notifications(values: dict[str, Any], fail: Callable) -> None:
    """Check BASE_URL, NOTIFICATION_CHANNELS and NOTIFICATION_RETRY_DELAYS; ``fail`` raises."""
    base_url = values.get("BASE_URL", "")
    if not isinstance(base_url, str) or (
        base_url and not base_url.startswith(("http://", "https://"))
    ):
        fail("BASE_URL", "must be '' or an http(s) URL", base_url)
    delays = values.get("NOTIFICATION_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
    if not isinstance(delays, list | tuple) or not all(_is_number(d) and d >= 0 for d in delays):
        fail("NOTIFICATION_RETRY_DELAYS", "must be a list of seconds >= 0", delays)
    channels = values.get("NOTIFICATION_CHANNELS", [])
    if not isinstance(channels, list | tuple):
        fail("NOTIFICATION_CHANNELS", "must be a list of channel dicts", channels)
    names = set()
    for channel in channels:
        _validate_channel(channel, names, fail)


def _validate_channel(channel: Any, names: set, fail: Callable) -> None:
    key = "NOTIFICATION_CHANNELS"
    if not isinstance(channel, dict):
        fail(key, "each channel must be a dict", channel)
    unknown = set(channel) - NOTIFICATION_CHANNEL_KEYS
    if unknown:
        fail(key, f"channel has unknown keys {sorted(unknown)}", channel)
    name = channel.get("name")
    if not isinstance(name, str) or not name or name in names:
        fail(key, "each channel needs a unique non-empty name", channel)
    names.add(name)
    if channel.get("kind") not in NOTIFICATION_CHANNEL_KINDS:
        fail(key, f"channel {name!r} needs a kind among {NOTIFICATION_CHANNEL_KINDS}", channel)
    target = channel.get("target")
    if not isinstance(target, str) or not target:
        fail(key, f"channel {name!r} needs a target (URL or email addresses)", channel)
    if channel["kind"] != "email" and not target.startswith(("http://", "https://")):
        fail(key, f"channel {name!r}: target must be an http(s) URL", channel)
    if channel.get("language", "en") not in NOTIFICATION_LANGUAGES:
        fail(key, f"channel {name!r}: language must be one of {NOTIFICATION_LANGUAGES}", channel)
    if not isinstance(channel.get("secret", ""), str):
        fail(key, f"channel {name!r}: secret must be a string", channel)
    if channel["kind"] == "pagerduty" and not channel.get("secret"):
        fail(key, f"channel {name!r}: PagerDuty needs its routing key as the secret", channel)
    if not isinstance(channel.get("enabled", True), bool):
        fail(key, f"channel {name!r}: enabled must be True or False", channel)
    for field in ("severities", "categories", "jobs", "rules"):
        value = channel.get(field, [])
        if not (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)):
            fail(key, f"channel {name!r}: {field} must be a list of strings", channel)
