"""The dashboard's job table: broken jobs first, and a page of it beyond a few hundred jobs.

Search and category filter apply to every job on the server; a page shows at most
``PAGE_SIZE`` of the matching rows, so a 5,000-job dashboard stays a few hundred KB.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from scheduler_monitor.dashboard.html_builders import FAILING_STATUSES

PAGE_SIZE = 100
PAGED_BEYOND = 300  # up to this many jobs the table holds them all (instant filter in page)


def trouble_rank(row) -> int:
    """0 failing, 1 stuck, 2 overdue, 3 the rest (``dashboard.JobRow``)."""
    if row.metrics.job.last_status in FAILING_STATUSES:
        return 0
    if row.stuck_runs:
        return 1
    if row.schedule.overdue:
        return 2
    return 3


def by_trouble(rows: list) -> list:
    """Failing, stuck, overdue, then the rest; by job id within each."""
    return sorted(rows, key=lambda row: (trouble_rank(row), row.metrics.job.job_id))


@dataclass(frozen=True)
class TablePage:
    rows: list
    paged: bool
    number: int
    pages: int
    matching: int
    total: int
    first: int
    last: int
    previous_url: str | None
    next_url: str | None


def table_page(rows: list, *, page: str, query: str, category: str) -> TablePage:
    """The rows to render: all of them (filtered in the page), or one page of the matching."""
    total = len(rows)
    matching = [row for row in rows if row.visible]
    if total <= PAGED_BEYOND:
        return TablePage(rows, False, 1, 1, len(matching), total, 1, total, None, None)
    pages = max(1, -(-len(matching) // PAGE_SIZE))
    number = min(max(int(page) if page.isdigit() else 1, 1), pages)
    start = (number - 1) * PAGE_SIZE
    shown = matching[start : start + PAGE_SIZE]

    def url(n: int) -> str:
        params = {k: v for k, v in (("q", query), ("category", category)) if v}
        return "?" + urlencode({**params, "jobs_page": n})

    return TablePage(
        rows=shown,
        paged=True,
        number=number,
        pages=pages,
        matching=len(matching),
        total=total,
        first=start + 1 if shown else 0,
        last=start + len(shown),
        previous_url=url(number - 1) if number > 1 else None,
        next_url=url(number + 1) if number < pages else None,
    )
