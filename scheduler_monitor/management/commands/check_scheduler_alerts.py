import json
import sys

from django.core.management.base import BaseCommand

from scheduler_monitor.alert_rules import SEVERITY_EXIT_CODES, alerts_status, firing_alerts
from scheduler_monitor.incidents import open_incidents
from scheduler_monitor.management.commands.scheduler_stats import display_width, pad
from scheduler_monitor.notification_messages import iso
from scheduler_monitor.scheduler_down_watch import scheduler_down_evaluate

COLUMNS = ["severity", "rule", "job", "message"]


class Command(BaseCommand):
    help = (
        "Evaluate SCHEDULER_MONITOR['ALERT_RULES'] and print the firing alerts. "
        "Exit status: 0 ok, 1 warning, 2 critical (Nagios-style). With --notify (for cron), "
        "also open the scheduler-down incident, which a dead scheduler cannot, and send "
        "the messages due."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        parser.add_argument(
            "--notify",
            action="store_true",
            help="open/resolve the scheduler-down incident and deliver due notifications",
        )

    def handle(self, *args, **options):
        alerts = firing_alerts()
        status = alerts_status(alerts)
        if options["notify"]:
            # Channels declared in settings are synced first: a scheduler that never
            # started has not done it.
            scheduler_down_evaluate()
        incidents = list(open_incidents())
        if options["json"]:
            payload = {
                "status": status,
                "exit_code": SEVERITY_EXIT_CODES[status],
                "alerts": [alert.as_dict() for alert in alerts],
                "incidents": [incident_dict(i) for i in incidents],
            }
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            self.write_table(alerts, status)
            self.write_incidents(incidents)
        self.stdout.flush()
        if SEVERITY_EXIT_CODES[status]:
            sys.exit(SEVERITY_EXIT_CODES[status])

    def write_incidents(self, incidents) -> None:
        if not incidents:
            return
        self.stdout.write(f"{len(incidents)} open incident(s):")
        for incident in incidents:
            by = incident.acknowledged_by
            ack = f", acknowledged by {by}" if incident.acknowledged_at else ""
            silenced = ", silenced" if incident.silenced else ""
            self.stdout.write(
                f"  #{incident.pk} {incident.severity} {incident.key} since "
                f"{iso(incident.opened_at)}{ack}{silenced}"
            )

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


def incident_dict(incident) -> dict:
    return {
        "id": incident.pk,
        "key": incident.key,
        "rule": incident.rule,
        "severity": incident.severity,
        "job_id": incident.job.job_id if incident.job else None,
        "opened_at": iso(incident.opened_at),
        "acknowledged_by": incident.acknowledged_by or None,
        "silenced": incident.silenced,
        "message": incident.message,
    }
