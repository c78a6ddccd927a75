import json
import sys

from django.core.management.base import BaseCommand

from scheduler_monitor.alert_rules import SEVERITY_EXIT_CODES, alerts_status, firing_alerts
from scheduler_monitor.management.commands.scheduler_stats import display_width, pad

COLUMNS = ["severity", "rule", "job", "message"]


class Command(BaseCommand):
    help = (
        "Evaluate SCHEDULER_MONITOR['ALERT_RULES'] and print the firing alerts. "
        "Exit status: 0 ok, 1 warning, 2 critical (Nagios-style)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args, **options):
        alerts = firing_alerts()
        status = alerts_status(alerts)
        if options["json"]:
            payload = {
                "status": status,
                "exit_code": SEVERITY_EXIT_CODES[status],
                "alerts": [alert.as_dict() for alert in alerts],
            }
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            self.write_table(alerts, status)
        self.stdout.flush()
        if SEVERITY_EXIT_CODES[status]:
            sys.exit(SEVERITY_EXIT_CODES[status])

    def write_table(self, alerts, status: str) -> None:
        if not alerts:
            self.stdout.write("OK: no alert is firing.")
            return
        self.stdout.write(f"{status.upper()}: {len(alerts)} alert(s) firing.")
        rows = [[a.severity, a.rule, a.job_id or "-", a.message] for a in alerts]
        table = [COLUMNS, *rows]
        widths = [max(display_width(r[i]) for r in table) for i in range(len(COLUMNS))]
        for row in table:
            cells = (pad(cell, width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
