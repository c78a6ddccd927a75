"""The dashboard's template library: its value filters and the Python-built table bodies."""

from django import template

from scheduler_monitor.dashboard.formatting import duration, percent, percent_width, sm_time, utc
from scheduler_monitor.dashboard.heatmap_html import heatmap_groups
from scheduler_monitor.dashboard.html_builders import job_rows

register = template.Library()
register.filter(duration)
register.filter(percent)
register.filter(percent_width)
register.simple_tag(sm_time)
register.filter(utc)


@register.simple_tag
def job_table_rows(rows):
    """The job table's rows, built in Python (1,000 rows through the engine took ~450 ms)."""
    return job_rows(rows)


@register.simple_tag
def heatmap_body(heatmap):
    """The heatmap's category groups and cells, built in Python like the job table's rows."""
    return heatmap_groups(heatmap)
