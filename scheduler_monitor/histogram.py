"""Persisted duration histograms: cumulative bucket counts that only ever grow.

A job's buckets are stored as ``{"<le>": count}`` (``le`` in seconds, formatted the way
Prometheus prints it, plus ``"+Inf"``). Counts are cumulative, as exposed. No Django here.

The bounds come from a setting and may change over a job's life. A bound that was not stored
yet starts from the count of the largest stored bound below it (the best lower estimate),
so every bucket still only grows and a higher bucket never counts less than a lower one.
"""

from collections.abc import Iterable, Sequence
from functools import lru_cache

from prometheus_client.utils import floatToGoString

INF = "+Inf"


def bound_key(bound: float) -> str:
    """Return the label value Prometheus uses for a bound (``0.1``, ``1.0``, ``+Inf``)."""
    return floatToGoString(bound)


@lru_cache(maxsize=8)
def _keys(bounds: tuple[float, ...]) -> tuple[str, ...]:
    return tuple(bound_key(b) for b in bounds)


def cumulative_counts(buckets: dict, bounds: Sequence[float]) -> list[tuple[str, int]]:
    """Return ``[(le, cumulative count), ..., ("+Inf", total)]`` for the configured bounds."""
    keys = _keys(tuple(bounds))
    try:
        # The usual case, once per job per scrape: every configured bound is stored.
        rows = [(key, buckets[key]) for key in keys]
    except KeyError:
        stored = _stored(buckets)
        rows = [(key, _estimate(stored, b)) for key, b in zip(keys, bounds, strict=True)]
    rows.append((INF, buckets.get(INF, 0)))
    return rows


def observe(buckets: dict, bounds: Sequence[float], durations_ms: Iterable[float]) -> dict:
    """Return new stored buckets with the durations (milliseconds) counted in."""
    stored = _stored(buckets or {})
    result = dict(buckets or {})
    for b in bounds:
        result[bound_key(b)] = _estimate(stored, b)
    result.setdefault(INF, 0)
    keyed = [(float(k), k) for k in result if k != INF]
    for duration_ms in durations_ms:
        seconds = duration_ms / 1000.0
        for bound, key in keyed:
            if seconds <= bound:
                result[key] += 1
        result[INF] += 1
    return result


def _stored(buckets: dict) -> list[tuple[float, int]]:
    return sorted((float(k), int(v)) for k, v in buckets.items() if k != INF)


def _estimate(stored: list[tuple[float, int]], bound: float) -> int:
    """The stored count at ``bound``, or at the largest stored bound below it (else 0)."""
    count = 0
    for stored_bound, stored_count in stored:
        if stored_bound > bound:
            break
        count = stored_count
    return count
