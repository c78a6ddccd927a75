"""Geometry of the job page's inline SVG charts: pure numbers in, coordinates out."""

from dataclasses import dataclass
from datetime import datetime


def nice_ceiling(value: float) -> float:
    """Round up to 1, 2, 2.5 or 5 times a power of ten, so axis labels read well."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: float
    label: str
    failed: bool


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    points: list[Point]
    polyline: str
    ticks: list[tuple[float, float]]  # (y, value)
    marker_y: float | None
    marker_value: float | None


def duration_chart(
    samples: list[tuple[float, str, bool]],
    *,
    marker: float | None,
    width: int = 720,
    height: int = 220,
) -> LineChart:
    """Plot durations (value, label, failed) left to right with a horizontal marker line."""
    left, top, right, bottom = 60, 12, 12, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for v, _, _ in samples] + [marker or 0])
    y_max = nice_ceiling(peak * 1.05)

    def y_of(value: float) -> float:
        return round(top + plot_h - value / y_max * plot_h, 1)

    n = len(samples)
    step = plot_w / (n - 1) if n > 1 else 0
    points = [
        Point(
            x=round(left + (i * step if n > 1 else plot_w / 2), 1),
            y=y_of(v),
            value=v,
            label=label,
            failed=failed,
        )
        for i, (v, label, failed) in enumerate(samples)
    ]
    return LineChart(
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_w,
        plot_height=plot_h,
        points=points,
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        ticks=[(y_of(y_max * f), y_max * f) for f in (0, 0.25, 0.5, 0.75, 1)],
        marker_y=y_of(marker) if marker is not None else None,
        marker_value=marker,
    )


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    ok_y: float
    ok_height: float
    fail_y: float
    fail_height: float
    successes: int
    failures: int
    hour: datetime


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]
    day_marks: list[tuple[float, datetime]]


def outcome_chart(
    hours: list[tuple[datetime, int, int]], *, width: int = 720, height: int = 180
) -> BarChart:
    """Stack successes (bottom) and failures (top) per hour; mark each UTC midnight."""
    left, top, right, bottom = 40, 10, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([s + f for _, s, f in hours] + [1])
    y_max = int(nice_ceiling(peak)) if peak > 1 else 1
    slot = plot_w / max(len(hours), 1)
    bars, marks = [], []
    for i, (hour, ok, failed) in enumerate(hours):
        x = left + i * slot
        ok_h = ok / y_max * plot_h
        fail_h = failed / y_max * plot_h
        base = top + plot_h
        bars.append(
            Bar(
                x=round(x, 2),
                width=round(max(slot - 0.6, 0.6), 2),
                ok_y=round(base - ok_h, 2),
                ok_height=round(ok_h, 2),
                fail_y=round(base - ok_h - fail_h, 2),
                fail_height=round(fail_h, 2),
                successes=ok,
                failures=failed,
                hour=hour,
            )
        )
        if hour.hour == 0:
            marks.append((round(x, 2), hour))
    ticks = sorted(
        {(round(top + plot_h - v / y_max * plot_h, 1), v) for v in (0, y_max // 2, y_max)}
    )
    return BarChart(
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_w,
        plot_height=plot_h,
        bars=bars,
        ticks=ticks,
        day_marks=marks,
    )
