import json
import unicodedata

from django.core.management.base import BaseCommand

from scheduler_monitor.jobs import job_metrics

COLUMNS = ["job", "name", "owner", "category", "runs", "success", "avg ms", "p95 ms", "last"]


def display_width(text: str) -> int:
    """Terminal columns of a string: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


class Command(BaseCommand):
    help = "Print each job's runs, success rate, average and p95 duration and last status."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args, **options):
        metrics = job_metrics()
        if options["json"]:
            self.stdout.write(json.dumps([m.as_brief_dict() for m in metrics], indent=2))
            return
        rows = [
            [
                m.job.job_id,
                m.job.name,
                m.job.owner,
                m.job.category,
                str(m.total_runs),
                "-" if m.success_rate is None else f"{m.success_rate:.1%}",
                fmt_ms(m.stats.avg_duration_ms),
                fmt_ms(m.stats.p95_duration_ms),
                m.job.last_status or "-",
            ]
            for m in metrics
        ]
        table = [COLUMNS, *rows]
        widths = [max(display_width(r[i]) for r in table) for i in range(len(COLUMNS))]
        for row in table:
            cells = (pad(cell, width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
        if not rows:
            self.stdout.write("No jobs recorded yet.")
