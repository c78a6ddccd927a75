"""Dashboard refreshes that send what changed: 304 when nothing did, else the changed parts.

The page keeps a digest of each fragment it shows and of each job row, and sends them
with a refresh (``X-SM-Known: id=digest ...``). The server renders as always, then sends
an unchanged fragment or row as an empty placeholder marked ``data-unchanged``, which the
page script keeps as it is; a fragment set with nothing changed is a ``304`` for its
``ETag``. A job's row changes when anything it shows does (its runs, its schedule), so an
auto-refresh where 1 % of jobs ran carries those rows, the cards and little else.
"""

import re
import zlib

from django.template.loader import render_to_string

# The refreshable parts, in page order: (template, extra context). The page's clock
# (``sm-updated``) changes on every render, so it is left out of the ETag.
FRAGMENTS = (
    ("scheduler_monitor/_updated.html", {}),
    ("scheduler_monitor/_alerts.html", {}),
    ("scheduler_monitor/_incidents.html", {}),
    ("scheduler_monitor/_status.html", {}),
    ("scheduler_monitor/_cards.html", {}),
    ("scheduler_monitor/_notification.html", {}),
    ("scheduler_monitor/_job_table.html", {}),
    ("scheduler_monitor/_heatmap.html", {"heatmap": "heatmap_hour"}),
    ("scheduler_monitor/_heatmap.html", {"heatmap": "heatmap_day"}),
)
CLOCK_ID = "sm-updated"
FRAGMENT_ID = re.compile(r'id="([^"]+)" data-fragment')
ROW = re.compile(r'<tr class="sm-row[^"]*" data-job-id="([^"]*)".*?</tr>', re.DOTALL)
MAX_KNOWN = 2000  # digests read from one request header
# Django masks the CSRF token anew on every render; the page's older copy stays valid.
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')


def digest(html: str) -> str:
    return f"{zlib.crc32(CSRF_INPUT.sub('', html).encode()):08x}"


def render_fragments(context: dict, request) -> list[tuple[str, str]]:
    """Each fragment as (id, html), rendered by the same partials as the page."""
    out = []
    for template, extra in FRAGMENTS:
        local = {**context, **{k: context[v] for k, v in extra.items()}}
        html = render_to_string(template, local, request=request).strip()
        match = FRAGMENT_ID.search(html)
        out.append((match.group(1), html))
    return out


def known_digests(header: str) -> dict[str, str]:
    """The page's ``X-SM-Known`` header: ``id=digest`` pairs (rows: ``row:<job id>``)."""
    known = {}
    for item in header.split()[:MAX_KNOWN]:
        key, _, value = item.partition("=")
        if key and value:
            known[key] = value
    return known


def etag(fragments: list[tuple[str, str]]) -> str:
    """One digest over every fragment but the clock, quoted as an ETag."""
    return '"' + digest("".join(html for fid, html in fragments if fid != CLOCK_ID)) + '"'


def mark(html: str, value: str) -> str:
    """Add ``data-digest="value"`` to the element that opens ``html`` (a fragment or a row)."""
    start = html.index("<")
    end = html.index(">", start)
    return f'{html[:end]} data-digest="{value}"{html[end:]}'


def changed_only(fragments: list[tuple[str, str]], known: dict[str, str]) -> str:
    """The fragments, with parts the page already shows replaced by placeholders."""
    parts = []
    for fragment_id, html in fragments:
        value = digest(html)
        if known.get(fragment_id) == value:
            parts.append(f'<div id="{fragment_id}" data-fragment data-unchanged></div>')
            continue
        if fragment_id == "sm-jobs":
            html = ROW.sub(lambda m: _row(m, known), html)
        parts.append(mark(html, value))
    return "\n".join(parts)


def _row(match: re.Match, known: dict[str, str]) -> str:
    html, job_id = match.group(0), match.group(1)
    value = digest(html)
    if known.get(f"row:{job_id}") == value:
        return f'<tr class="sm-row" data-job-id="{job_id}" data-unchanged></tr>'
    return mark(html, value)
