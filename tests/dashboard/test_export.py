"""The Prometheus export button: a download that parses as Prometheus text."""

import re

from prometheus_client.parser import text_string_to_metric_families

URL = "/scheduler-monitoring/export.prom"


def test_it_downloads_a_parsable_exposition(staff_client, dataset):
    """The file is named with a UTC timestamp and carries the jobs' counters."""
    response = staff_client.get(URL)
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert re.fullmatch(
        r'attachment; filename="scheduler-metrics-\d{8}T\d{6}Z\.prom"', disposition
    ), disposition
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    success = {
        s.labels["job_id"]: s.value
        for s in families["scheduler_job_success"].samples
        if s.name == "scheduler_job_success_total"
    }
    assert success["alpha_job"] == 4
    assert success["send_alert_notifications"] == 5
