"""The failure heatmaps' cells and job lists, built in Python like the job table's rows.

Through the template engine the 1,080 cells of the two heatmaps took ~190 ms; the
helpers and rules are html_builders' (escaped values, the templates' msgids).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from scheduler_monitor.dashboard.formatting import utc
from scheduler_monitor.dashboard.html_builders import (
    MUTED,
    escaped,
    fill,
    html_format,
    job_url_maker,
    number_maker,
)

GROUP = (
    '\n<tbody class="sm-heat-group" data-category="{category}">\n<tr>\n'
    '<th scope="row" class="sm-heat-cat">{label}</th>\n'
    "{cells}\n"
    '<td class="sm-num sm-heat-total" data-total="{total}">{total}</td>\n'
    "</tr>\n"
    '<tr class="sm-heat-jobs">\n'
    '<td colspan="{colspan}"><div class="sm-heat-joblist">\n{jobs}\n</div></td>\n'
    "</tr>\n"
    "</tbody>"
)
CELL = (
    '<td class="sm-heat sm-heat-l{level}{alarm_class}" data-count="{count}" data-start="{start}"'
    ' title="{category} · {when} UTC: {failures}{alarm_note}">{text}</td>'
)
MORE_JOBS = '<a class="sm-heat-more" href="{url}" data-hidden-jobs="{count}">{text}</a>'
JOB_LINK = (
    '<a class="sm-heat-job" href="{url}" data-job-id="{job_id}" data-failures="{failures}">'
    "<code>{job_id}</code> × {failures}{timed_out}</a>"
)


@dataclass(frozen=True)
class HeatParts:
    """What one heatmap render shares between cells: words, counts' texts, bucket texts."""

    alarm_note: SafeString
    none: str
    no_failures: SafeString
    colspan: str
    job_url: Callable[[str], str]
    number: Callable[[int], str]
    bucket: Callable[..., tuple[str, str]]
    failures: Callable[[int], SafeString]


def heatmap_groups(heatmap: dict) -> SafeString:
    """One ``<tbody>`` per category: its cells, total and failed jobs (``heatmap_view``)."""
    parts = heat_parts(heatmap)
    return mark_safe("".join(heatmap_group(row, parts) for row in heatmap["rows"]))


def heat_parts(heatmap: dict) -> HeatParts:
    """Translate the heatmap's words once; cache texts per bucket and per count."""
    hourly = heatmap["bucket"] == "hour"
    number = number_maker()
    return HeatParts(
        alarm_note=html_format(" ({text})", text=gettext("alarm")),
        none=gettext("(none)"),
        no_failures=html_format(MUTED, text=gettext("no failures")),
        colspan=number(len(heatmap["buckets"]) + 2),
        job_url=job_url_maker(),
        number=number,
        bucket=cache(lambda start, end: bucket_texts(start, end, hourly)),
        failures=cache(lambda count: failures_text(count, number)),
    )


def bucket_texts(start, end, hourly: bool) -> tuple[str, str]:
    """A bucket's ``data-start`` (ISO) and its span in the title, both in UTC."""
    when = utc(start, "Y-m-d H:i")
    if hourly:
        when += "–" + utc(end, "H:i")
    return utc(start, "c"), when


def failures_text(count: int, number: Callable[[int], str]) -> SafeString:
    """``N failure(s)`` in the active language."""
    return fill(ngettext("%(n)s failure", "%(n)s failures", count), n=number(count))


def heatmap_group(row: dict, parts: HeatParts) -> SafeString:
    """A category's row of cells and, under it, the jobs that failed with their counts."""
    category = mark_safe(escaped(row["category"]))
    cells = mark_safe("".join(heat_cell(cell, category, parts) for cell in row["cells"]))
    return html_format(
        GROUP,
        category=category,
        label=category or parts.none,
        cells=cells,
        total=parts.number(row["total"]),
        colspan=parts.colspan,
        jobs=row_jobs(row, parts),
    )


def row_jobs(row: dict, parts: HeatParts) -> SafeString:
    """The row's listed jobs, then a link to the ones left out (``heatmap_view.capped``)."""
    hidden = row.get("hidden_jobs", 0)
    if not row["jobs"] and not hidden:
        return parts.no_failures
    listed = job_links(row["jobs"], parts) if row["jobs"] else ""
    if not hidden:
        return listed
    text = ngettext("+ %(n)s more failing job", "+ %(n)s more failing jobs", hidden)
    more = html_format(
        MORE_JOBS,
        url=row["more_url"],
        count=parts.number(hidden),
        text=fill(text, n=parts.number(hidden)),
    )
    return mark_safe(listed + more)


def heat_cell(cell: dict, category: SafeString, parts: HeatParts) -> SafeString:
    """One bucket's cell: colour step, alarm mark, count and its hover title."""
    start, when = parts.bucket(cell["start"], cell["end"])
    count = parts.number(cell["count"])
    return html_format(
        CELL,
        level=parts.number(cell["level"]),
        alarm_class=" sm-heat-alarm" if cell["alarm"] else "",
        count=count,
        start=start,
        category=category,
        when=when,
        failures=parts.failures(cell["count"]),
        alarm_note=parts.alarm_note if cell["alarm"] else "",
        text=count if cell["count"] else "",
    )


def job_links(jobs: list[dict], parts: HeatParts) -> SafeString:
    """The category's failed jobs as links to their pages, with their failure counts."""
    return mark_safe(
        "".join(
            html_format(
                JOB_LINK,
                url=parts.job_url(item["job_id"]),
                job_id=item["job_id"],
                failures=parts.number(item["failures"]),
                timed_out=fill(gettext(" (%(n)s timed out)"), n=parts.number(item["timed_out"]))
                if item.get("timed_out")
                else "",
            )
            for item in jobs
        )
    )
