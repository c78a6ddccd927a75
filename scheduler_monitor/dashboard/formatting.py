"""How the dashboard shows values: durations, rates, and times the browser localises."""

from datetime import UTC, datetime

from django.utils import dateformat
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from scheduler_monitor.timestamps import iso_utc


def duration(ms: float | None) -> str:
    """``850 ms``, ``1.25 s``, ``2.5 min``; a dash when unknown."""
    if ms is None:
        return "—"
    # number_format truncates; round first so 173.99 reads 174.
    if round(ms) < 1000:
        return _("%(value)s ms") % {"value": number_format(round(ms), 0)}
    if round(ms / 1000, 2) < 60:
        return _("%(value)s s") % {"value": number_format(round(ms / 1000, 2), 2)}
    return _("%(value)s min") % {"value": number_format(round(ms / 60_000, 1), 1)}


def percent(rate: float | None) -> str:
    """``97.5%``; a dash when there was no run."""
    if rate is None:
        return "—"
    return f"{number_format(round(rate * 100, 1), 1)}%"


def percent_width(rate: float | None) -> str:
    """A CSS width for a rate bar (dot decimal whatever the locale)."""
    return f"{(rate or 0) * 100:.1f}%"


def sm_time(value: datetime | None, style: str = "datetime"):
    """A ``<time>`` the page script shows in local time; UTC stays in the title.

    ``style`` is ``datetime``, ``relative`` (``3 min ago``), ``hour`` or ``date``.
    """
    if value is None:
        return "—"
    iso = iso_utc(value)
    utc_text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html(
        '<time class="sm-time" datetime="{}" data-style="{}" title="{}">{}</time>',
        iso,
        style,
        utc_text,
        utc_text,
    )


def utc(value: datetime | None, fmt: str = "Y-m-d H:i") -> str:
    """Format in UTC whatever the active time zone (labels that say "UTC")."""
    if value is None:
        return ""
    return dateformat.format(value.astimezone(UTC), fmt)
