"""The dashboard's repeated HTML (job table rows; the heatmaps' in heatmap_html.py), in Python.

Built like the admin's changelist rows (``items_for_result`` in ``admin_list.py``): through
the template engine the 1,000 rows of the job table took ~450 ms and the 1,080 cells of the
two heatmaps ~190 ms. The templates keep the structure; these builders give the same
elements, attributes, text and translations (only whitespace between tags differs).

Every value goes through ``html_format`` (``format_html``'s rule: escaped unless already
safe); only the builders' own output and escaped translations are safe strings. The
translations use the templates' msgids, as gettext literals so makemessages keeps them.
"""

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote

from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import localize
from django.utils.functional import Promise
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from scheduler_monitor.dashboard.formatting import (
    duration,
    percent,
    percent_width,
    sm_time,
)

JOB_URL_NAME = "scheduler_monitor_job"
# The characters reverse() leaves unquoted in a path (its quote() call's ``safe``).
URL_SAFE = RFC3986_SUBDELIMS + "/~:@"
URL_MARKER = "smjobidmarker"  # letters only: quote() leaves it as it is


# --- shared helpers ---------------------------------------------------------------------


def html_format(template: str, /, **values) -> SafeString:
    """Fill ``template``'s ``{name}`` fields like ``format_html``: escaped unless safe.

    Django's escape() and mark_safe() run through keep_lazy's wrapper (~1 µs a call) and
    a job row has ~20 values to escape; html.escape() is what escape() calls, so the text
    is the same.
    """
    return SafeString(template.format(**{key: escaped(value) for key, value in values.items()}))


def escaped(value) -> str:
    """``conditional_escape(value)`` without keep_lazy's wrapper."""
    if type(value) is str:  # most values: plain text, never safe already
        return html.escape(value)
    if type(value) is SafeString:  # the builders' own parts
        return value
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def fill(translation: str, **values) -> SafeString:
    """``{% blocktranslate %}``'s output: the translation with its values escaped and put in.

    Callers pass ``gettext("literal")`` so that makemessages still finds the msgids. The
    translation is escaped too (blocktranslate inserted it as it is): the same for every
    shipped catalogue, and a translator's quote cannot end an attribute.
    """
    return mark_safe(escaped(translation) % {key: escaped(v) for key, v in values.items()})


def job_url_maker() -> Callable[[str], str]:
    """Return a job page URL function that calls reverse() once, not once per link.

    reverse() costs ~13 µs, and a page has a link per job row plus ~1,400 heatmap links.
    For the ``<str:job_id>`` pattern reverse() puts the id in the path and quotes the whole
    path with ``quote(path, safe=URL_SAFE)``; quote() works character by character, so
    quoting the id alone into a reversed marker gives the same URL. Ids the pattern does
    not match (empty, or with a "/") still go through reverse(), which raises as before.
    """
    head, _, tail = reverse(JOB_URL_NAME, args=[URL_MARKER]).rpartition(URL_MARKER)

    def job_url(job_id: str) -> str:
        if not job_id or "/" in job_id:
            return reverse(JOB_URL_NAME, args=[job_id])
        return head + quote(job_id, safe=URL_SAFE) + tail

    return job_url


def number_maker() -> Callable[[int], str]:
    """Return ``{{ n }}``'s localised text of an int, cached for one render.

    localize() costs ~3.5 µs and counts repeat (mostly 0). The cache lives for one call:
    the text depends on the active language and the number settings. Ints only (a cache
    would give ``True`` and ``1`` the same text).
    """
    return cache(localize)


# --- the job table ------------------------------------------------------------------------

ROW = (
    '\n<tr class="sm-row{failing}" data-job-id="{job_id}" data-overdue="{overdue}"'
    ' data-stuck="{stuck}" data-search="{search}" data-category="{category}"'
    ' data-sort-id="{job_id}" data-sort-name="{name}" data-sort-owner="{owner}"'
    ' data-sort-category="{category}" data-sort-rate="{sort_rate}" data-sort-runs="{runs}"'
    ' data-sort-avg="{sort_avg}" data-sort-p95="{sort_p95}" data-sort-status="{status}"'
    ' data-sort-last="{sort_last}" data-sort-next="{sort_next}"'
    ' data-sort-paused="{sort_paused}"{hidden}>\n'
    '<td><a class="sm-job-link" href="{url}"><code>{job_id}</code></a></td>\n'
    '<td><a href="{url}">{name}</a></td>\n'
    "<td>{owner}</td>\n"
    "<td>{category}</td>\n"
    '<td class="sm-rate-cell">{rate_cell}</td>\n'
    '<td class="sm-num" data-cell="runs">{runs}</td>\n'
    '<td class="sm-num">{avg}</td>\n'
    '<td class="sm-num">{p95}</td>\n'
    "<td>{status_badge}\n{stuck_badge}{attempts_note}</td>\n"
    "<td>{last_run}</td>\n"
    "<td>{next_run}\n{overdue_badge}</td>\n"
    "<td>{paused_badge}</td>\n"
    "</tr>"
)
RATE_BAR = (
    '\n<span class="sm-rate{level}" role="img" aria-label="{text}">'
    '<span style="width: {width}"></span></span>\n<span class="sm-rate-text">{text}</span>'
)
MUTED = '<span class="sm-muted">{text}</span>'
BADGE = '<span class="sm-badge sm-badge-{kind}">{text}</span>'
TITLED_BADGE = '<span class="sm-badge sm-badge-{kind}" title="{title}">{text}</span>'
FAILING_STATUSES = ("failure", "abandoned", "timed_out")
# Failures (final) beside retried attempts and time-outs, shown only once either happened.
ATTEMPTS_NOTE = (
    '\n<span class="sm-muted sm-attempts" title="{title}">{failures} / {retried} / {timed_out}'
    "</span>"
)


@dataclass(frozen=True)
class TableParts:
    """What one table render shares between rows: words, URL maker, per-value caches."""

    never_ran: SafeString
    paused: SafeString
    paused_badge: SafeString
    not_paused: SafeString
    stuck_title: str
    overdue_badge: Callable[[float, float], SafeString]
    job_url: Callable[[str], str]
    number: Callable[[int], str]
    status_label: Callable
    rate_cell: Callable[[float | None], SafeString]
    time: Callable[..., SafeString | str]


def job_rows(rows: Iterable) -> SafeString:
    """The job table's ``<tr>`` rows (``dashboard.JobRow`` items)."""
    parts = table_parts()
    return mark_safe("".join(job_row(row, parts) for row in rows))


def table_parts() -> TableParts:
    """Translate the table's words once and start its caches (one table's lifetime).

    Success rates repeat (~100 values in 1,000 rows), so do next run times (~60) and with
    them how late overdue jobs are.
    """
    overdue = gettext("overdue")
    return TableParts(
        never_ran=html_format(MUTED, text=gettext("never ran")),
        paused=html_format(MUTED, text=gettext("paused")),
        paused_badge=html_format(BADGE, kind="paused", text=gettext("paused")),
        not_paused=html_format(MUTED, text=gettext("no")),
        stuck_title=gettext("Running past its maximum runtime"),
        overdue_badge=cache(lambda late, grace: overdue_badge(late, grace, overdue)),
        job_url=job_url_maker(),
        number=number_maker(),
        status_label=status_label_maker(),
        rate_cell=cache(rate_cell),
        time=cache(sm_time),
    )


def status_label_maker() -> Callable:
    """Return ``job.get_last_status_display()``, cached per status for one table.

    The model method builds its choices dict on every call (~25 µs); the label depends
    on the status alone (and on the active language, fixed during one render).
    """
    labels = {}

    def label(job) -> str:
        if job.last_status not in labels:
            labels[job.last_status] = job.get_last_status_display()
        return labels[job.last_status]

    return label


def job_row(row, parts: TableParts) -> SafeString:
    """One job's ``<tr>`` with its data-* attributes for search, sorting and refresh."""
    metrics, job, stats = row.metrics, row.metrics.job, row.metrics.stats
    rate, overdue = metrics.success_rate, row.schedule.overdue
    failing = job.last_status in FAILING_STATUSES or overdue or row.stuck_runs
    return html_format(
        ROW,
        failing=" sm-row-failing" if failing else "",
        job_id=job.job_id,
        name=job.name,
        owner=job.owner,
        category=job.category,
        status=job.last_status,
        overdue="1" if overdue else "0",
        stuck=parts.number(row.stuck_runs),
        search=f"{job.job_id.lower()} {job.name.lower()} {job.owner.lower()}",
        sort_rate=sort_value(rate),
        runs=parts.number(metrics.total_runs),
        sort_avg=sort_value(stats.avg_duration_ms),
        sort_p95=sort_value(stats.p95_duration_ms),
        sort_last=epoch(job.last_run_at),
        sort_next=epoch(row.next_run_at),
        sort_paused="1" if job.paused else "0",
        hidden="" if row.visible else " hidden",
        url=parts.job_url(job.job_id),
        rate_cell=parts.rate_cell(rate),
        avg=duration(stats.avg_duration_ms),
        p95=duration(stats.p95_duration_ms),
        status_badge=status_badge(job, parts),
        stuck_badge=stuck_badge(row.stuck_runs, parts),
        attempts_note=attempts_note(job, parts),
        last_run=parts.time(job.last_run_at, "relative"),
        next_run=parts.paused if job.paused else parts.time(row.next_run_at, "relative"),
        overdue_badge=(
            parts.overdue_badge(row.schedule.late_seconds, row.schedule.grace_seconds)
            if overdue
            else ""
        ),
        paused_badge=parts.paused_badge if job.paused else parts.not_paused,
    )


def attempts_note(job, parts: TableParts) -> SafeString | str:
    """Failed / retried / timed-out counts, when a job ever retried or timed out."""
    if not (job.retried_count or job.timed_out_count):
        return ""
    return html_format(
        ATTEMPTS_NOTE,
        title=gettext("failures (final) / retried attempts / timed out"),
        failures=parts.number(job.failure_count),
        retried=parts.number(job.retried_count),
        timed_out=parts.number(job.timed_out_count),
    )


def sort_value(value: float | None) -> str:
    """``{{ value|default_if_none:'-1'|stringformat:'s' }}``: the number, -1 when unknown."""
    return "-1" if value is None else str(value)


def epoch(value) -> str:
    """``{{ value|date:'U'|default:'0' }}``: Unix seconds, 0 when unknown.

    The date filter's ``U`` is ``int(value.timestamp())`` (DateFormat.U) whatever the
    time zone; the filter itself costs ~6 µs, twice a row.
    """
    return "0" if value is None else str(int(value.timestamp()))


def rate_cell(rate: float | None) -> SafeString:
    """The success rate's bar (red under 90 %, amber under 99 %) and text; a dash if none."""
    if rate is None:
        return html_format(MUTED, text="—")
    level = " sm-rate-bad" if rate < 0.9 else " sm-rate-warn" if rate < 0.99 else ""
    return html_format(RATE_BAR, level=level, text=percent(rate), width=percent_width(rate))


def status_badge(job, parts: TableParts) -> SafeString:
    """The last status as a coloured badge (translated label), or "never ran"."""
    if not job.last_status:
        return parts.never_ran
    return html_format(BADGE, kind=job.last_status, text=parts.status_label(job))


def stuck_badge(stuck_runs: int, parts: TableParts) -> SafeString | str:
    """``N stuck`` when runs are past their maximum runtime; nothing otherwise."""
    if not stuck_runs:
        return ""
    text = fill(ngettext("%(n)s stuck", "%(n)s stuck", stuck_runs), n=parts.number(stuck_runs))
    return html_format(TITLED_BADGE, kind="stuck", title=parts.stuck_title, text=text)


def overdue_badge(late: float, grace: float, word: str) -> SafeString:
    """The overdue badge; its title says how late the job is (seconds) and its grace."""
    title = fill(
        gettext("Due %(late)s s ago (grace %(grace)s s)"),
        late=floatformat(late, "0"),
        grace=floatformat(grace, "0"),
    )
    return html_format(TITLED_BADGE, kind="overdue", title=title, text=word)
