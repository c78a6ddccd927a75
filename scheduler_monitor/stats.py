"""Duration statistics: pure Python, no Django."""

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of a job's durations in milliseconds; all None when there is no sample."""

    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    min_duration_ms: float | None
    max_duration_ms: float | None
    sample_count: int

    def as_dict(self) -> dict:
        return asdict(self)


EMPTY_STATS = Stats(None, None, None, None, None, None, 0)


def percentile(sorted_data: Sequence[float], p: float) -> float | None:
    """Return the p-quantile (0..1) of sorted data by linear interpolation between ranks.

    The brief's algorithm; equal to ``statistics.quantiles(method="inclusive")``.
    """
    if not sorted_data:
        return None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"percentile must be between 0 and 1, got {p}")
    k = (len(sorted_data) - 1) * p
    f = int(k)
    c = k - f
    if f + 1 < len(sorted_data):
        return sorted_data[f] + c * (sorted_data[f + 1] - sorted_data[f])
    return sorted_data[f]


def summarise(durations: Iterable[float]) -> Stats:
    """Summarise durations (ms) into avg, p50, p95, p99, min, max and the sample count."""
    data = sorted(durations)
    if not data:
        return EMPTY_STATS
    return Stats(
        avg_duration_ms=sum(data) / len(data),
        p50_duration_ms=percentile(data, 0.50),
        p95_duration_ms=percentile(data, 0.95),
        p99_duration_ms=percentile(data, 0.99),
        min_duration_ms=data[0],
        max_duration_ms=data[-1],
        sample_count=len(data),
    )
