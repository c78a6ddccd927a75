"""The statistics function against independent references."""

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler_monitor.stats import EMPTY_STATS, percentile, summarise

finite = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)


def reference(data: list[float]) -> dict:
    """avg/p50/p95/p99/min/max from the standard library, computed independently."""
    if len(data) == 1:
        q = {50: data[0], 95: data[0], 99: data[0]}
    else:
        cuts = statistics.quantiles(data, n=100, method="inclusive")
        q = {50: cuts[49], 95: cuts[94], 99: cuts[98]}
    return {
        "avg": statistics.fmean(data),
        "p50": q[50],
        "p95": q[95],
        "p99": q[99],
        "min": min(data),
        "max": max(data),
    }


def assert_matches_reference(data: list[float]) -> None:
    stats = summarise(data)
    ref = reference(data)
    assert stats.sample_count == len(data)
    assert stats.avg_duration_ms == pytest.approx(ref["avg"], rel=1e-9, abs=1e-9)
    assert stats.p50_duration_ms == pytest.approx(ref["p50"], rel=1e-9, abs=1e-9)
    assert stats.p95_duration_ms == pytest.approx(ref["p95"], rel=1e-9, abs=1e-9)
    assert stats.p99_duration_ms == pytest.approx(ref["p99"], rel=1e-9, abs=1e-9)
    assert stats.min_duration_ms == ref["min"]
    assert stats.max_duration_ms == ref["max"]


def test_it_returns_empty_stats_without_samples():
    """No samples gives a zero count and no numbers, not zeros that look like data."""
    assert summarise([]) == EMPTY_STATS
    assert EMPTY_STATS.sample_count == 0
    assert EMPTY_STATS.p95_duration_ms is None


def test_it_uses_the_only_sample_for_every_statistic():
    stats = summarise([42.5])
    assert (stats.avg_duration_ms, stats.p50_duration_ms, stats.p99_duration_ms) == (
        42.5,
        42.5,
        42.5,
    )
    assert stats.sample_count == 1


def test_it_interpolates_between_two_samples():
    stats = summarise([10.0, 20.0])
    assert stats.p50_duration_ms == 15.0
    assert stats.p95_duration_ms == pytest.approx(19.5)
    assert stats.p99_duration_ms == pytest.approx(19.9)
    assert_matches_reference([10.0, 20.0])


def test_it_handles_equal_values():
    assert_matches_reference([7.0] * 50)
    assert summarise([7.0] * 50).p99_duration_ms == 7.0


def test_it_matches_the_reference_on_unsorted_random_data():
    import random

    rng = random.Random(5)
    data = [rng.lognormvariate(5, 1) for _ in range(1000)]
    assert_matches_reference(data)


@given(st.lists(finite, min_size=1, max_size=300))
def test_it_matches_statistics_quantiles_inclusive_on_any_data(data):
    assert_matches_reference(data)


def test_percentile_refuses_a_fraction_outside_zero_to_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1.0, 2.0], 95)
