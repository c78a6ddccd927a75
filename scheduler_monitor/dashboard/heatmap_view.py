"""The failure heatmaps as the dashboard shows them: colour steps, and a cap at scale.

With thousands of jobs the full lists of failing jobs under the category rows were most of
the page (5,000 jobs: 960 KB of 1.1 MB). By default a heatmap lists the ``TOP_JOBS`` jobs
with the most failures, each under its category, and says per category how many more
failed; beyond ``TOP_ROWS`` categories it keeps those with the most failures. Every cell
of the shown rows stays exact, and the rest is one link away: ``?heat_category=<name>``
shows one category with all its failing jobs, ``?heat=all`` everything (and the jobs
without a category, which ``heat_category`` cannot name: empty means every category).
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest

from scheduler_monitor import heatmaps

# Failure counts per heatmap colour step: a fixed scale, so colours mean the same every day.
HEAT_STEPS = ((0, 0), (1, 1), (2, 2), (3, 4), (5, 9), (10, None))
TOP_JOBS = 50  # failing jobs listed per heatmap by default, the most failures first
TOP_ROWS = 50  # category rows per heatmap by default
RANGES = ("hour", "day")


@dataclass(frozen=True)
class HeatFocus:
    """What the heatmap panel shows: the capped overview, one category, or everything."""

    show_all: bool = False
    category: str | None = None
    range: str = "hour"
    params: tuple = ()  # the page's other query parameters, kept in the panel's links

    def url(self, **changes) -> str:
        """This page's query string with the heatmap parameters changed."""
        values = {"show_all": self.show_all, "category": self.category, "range": self.range}
        values.update(changes)
        params = [(k, v) for k, v in self.params if k not in HEAT_PARAMS and k != "tab"]
        params.append(("tab", "heatmap"))
        if values["range"] != "hour":
            params.append(("heat_range", values["range"]))
        if values["category"] is not None:
            params.append(("heat_category", values["category"]))
        elif values["show_all"]:
            params.append(("heat", "all"))
        return "?" + urlencode(params)


HEAT_PARAMS = ("heat", "heat_category", "heat_range")


def heat_focus(request: HttpRequest) -> HeatFocus:
    """Read ``?heat=all``, ``?heat_category=`` and ``?heat_range=day`` (bad values: defaults)."""
    get = request.GET
    heat_range = get.get("heat_range", "hour")
    return HeatFocus(
        show_all=get.get("heat") == "all",
        # Empty means every category, as in the job table's filter ("(none)" is in "all").
        category=get.get("heat_category") or None,
        range=heat_range if heat_range in RANGES else "hour",
        params=tuple((k, v) for k, values in get.lists() for v in values),
    )


def heat_level(count: int) -> int:
    """Colour step (0-5) of a failure count on the fixed scale."""
    for level, (low, high) in enumerate(HEAT_STEPS):
        if count >= low and (high is None or count <= high):
            return level
    return len(HEAT_STEPS) - 1


def heat_legend() -> list[dict]:
    """The colour steps with the counts each stands for."""
    legend = []
    for level, (low, high) in enumerate(HEAT_STEPS):
        label = f"{low}+" if high is None else (str(low) if high == low else f"{low}–{high}")
        legend.append({"level": level, "label": label})
    return legend


def heatmap_view(heatmap: heatmaps.FailureHeatmap, focus: HeatFocus | None = None) -> dict:
    """Colour level, alarm flag and bucket end of every cell; rows and job lists as focused.

    Without a focus (or with ``show_all``) every row lists every failing job.
    """
    step = (heatmap.buckets[1] - heatmap.buckets[0]) if len(heatmap.buckets) > 1 else None
    rows = []
    for row in heatmap.rows:
        cells = [
            {
                "count": count,
                "level": heat_level(count),
                "alarm": count >= heatmap.alarm_threshold,
                "start": bucket,
                "end": bucket + step if step else None,
            }
            for bucket, count in zip(heatmap.buckets, row.counts, strict=True)
        ]
        rows.append(
            {
                "category": row.category,
                "total": row.total,
                "cells": cells,
                "jobs": row.jobs,
                "hidden_jobs": 0,
                "more_url": "",
            }
        )
    view = {
        "bucket": heatmap.bucket,
        "buckets": heatmap.buckets,
        "rows": rows,
        "threshold": heatmap.alarm_threshold,
        "max_count": heatmap.max_count,
        # Over every category, shown or not: the summary line stays true when capped.
        "alarm_cells": sum(1 for r in rows for c in r["cells"] if c["alarm"]),
        "failing_jobs": sum(len(r["jobs"]) for r in rows),
        "categories": len(rows),
        "capped": False,
        "hidden_jobs": 0,
        "hidden_rows": 0,
        "hidden_quiet_rows": 0,
        "focus_category": None,
        "all_url": "",
        "top_url": "",
    }
    if focus is None:
        return view
    view["all_url"] = focus.url(show_all=True, category=None, range=heatmap.bucket)
    view["top_url"] = focus.url(show_all=False, category=None, range=heatmap.bucket)
    if focus.category is not None:
        view["focus_category"] = focus.category
        view["rows"] = [r for r in rows if r["category"] == focus.category]
        return view
    if not focus.show_all:
        capped(view, focus)
    return view


def capped(view: dict, focus: HeatFocus, *, top_jobs=TOP_JOBS, top_rows=TOP_ROWS) -> None:
    """Keep the categories and jobs with the most failures; count what is left out."""
    rows = view["rows"]
    if len(rows) > top_rows:
        ranked = sorted(rows, key=lambda r: (-r["total"], r["category"]))
        kept = {id(r) for r in ranked[:top_rows]}
        dropped = [r for r in rows if id(r) not in kept]
        view["hidden_rows"] = len(dropped)
        view["hidden_quiet_rows"] = sum(1 for r in dropped if not r["total"])
        rows = [r for r in rows if id(r) in kept]  # still by category name
    listed = sorted(
        ((job["failures"], job["job_id"]) for r in rows for job in r["jobs"]),
        key=lambda item: (-item[0], item[1]),
    )
    top = {job_id for _, job_id in listed[:top_jobs]}
    for row in rows:
        shown = [job for job in row["jobs"] if job["job_id"] in top]
        row["hidden_jobs"] = len(row["jobs"]) - len(shown)
        if row["hidden_jobs"]:
            focused = {"category": row["category"]} if row["category"] else {"show_all": True}
            row["more_url"] = focus.url(range=view["bucket"], **focused)
        row["jobs"] = shown
    view["rows"] = rows
    view["hidden_jobs"] = view["failing_jobs"] - sum(len(r["jobs"]) for r in rows)
    view["capped"] = bool(view["hidden_jobs"] or view["hidden_rows"])
