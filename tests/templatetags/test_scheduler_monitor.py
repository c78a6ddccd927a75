"""Template formatting of durations, rates and times."""

from datetime import UTC, datetime

import pytest
from django.utils import translation

from scheduler_monitor.templatetags.scheduler_monitor import duration, percent, sm_time, utc


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "—"),
        (0.4, "0 ms"),
        (173.99999999999997, "174 ms"),
        (999.6, "1.00 s"),
        (1234.5, "1.23 s"),
        (59_999.0, "1.0 min"),
        (150_000.0, "2.5 min"),
    ],
)
def test_it_formats_durations_rounded(ms, text):
    """Durations are rounded (never truncated) into ms, s or min."""
    assert duration(ms) == text


def test_it_formats_rates_rounded():
    """Rates read as percentages with one decimal, rounded; a dash without runs."""
    assert percent(None) == "—"
    assert percent(0.99996) == "100.0%"
    assert percent(2 / 3) == "66.7%"


def test_it_translates_duration_units():
    """The unit follows the active language."""
    with translation.override("zh-hans"):
        assert duration(12.0) == "12 毫秒"


def test_it_emits_a_time_element_in_utc():
    """The browser localises the <time>; its datetime and title are UTC."""
    value = datetime(2026, 1, 15, 10, 0, 5, tzinfo=UTC)
    html = sm_time(value, "relative")
    assert 'datetime="2026-01-15T10:00:05Z"' in html
    assert 'title="2026-01-15 10:00:05 UTC"' in html
    assert 'data-style="relative"' in html
    assert sm_time(None) == "—"
    assert utc(value, "H:i") == "10:00"
