"""Time helpers shared by the domain: the epoch, UTC days, ISO 8601 with ``Z``."""

from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc(value: datetime | None) -> str | None:
    """Format an aware datetime as UTC ISO 8601 with a ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_day_start(moment: datetime) -> datetime:
    """Midnight UTC of the day holding ``moment``."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def utc_days(days: int, now: datetime) -> list[date]:
    """The last ``days`` UTC days up to today, oldest first."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
