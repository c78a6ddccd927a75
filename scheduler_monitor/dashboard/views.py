"""The admin-hosted dashboard: thin views over the domain modules, rendered from templates.

The first page and every auto-refresh render the same partials (``_live.html``).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import CONTENT_TYPE_LATEST

from scheduler_monitor import (
    alert_rules,
    conf,
    heatmaps,
    incidents,
    job_control,
    job_rows,
    jobs,
    notification_chain,
    runs,
    schedule_health,
    scheduler_events,
    scheduler_instances,
    summary,
)
from scheduler_monitor.audit import request_actor
from scheduler_monitor.dashboard import charts, fragment_diff, job_table
from scheduler_monitor.dashboard.heatmap_view import heat_focus, heat_legend, heatmap_view
from scheduler_monitor.dashboard.incidents import incident_rows
from scheduler_monitor.dashboard.job_control import job_control_context
from scheduler_monitor.exposition import scheduler_exposition
from scheduler_monitor.job_params import ParamsInvalid, job_params_from_form
from scheduler_monitor.models import JobDefinition, RunStatus
from scheduler_monitor.stats import EMPTY_STATS, summarise

REFRESH_CHOICES = (0, 10, 30, 60)
RUNS_PER_PAGE = 25
START_DELAY_HOURS = 24
CHART_RUNS = 100
JOB_INCIDENTS = 20  # the job page's incident history
# Alerts listed on the dashboard, worst first; the rest are counted per rule. With the
# scheduler down for an hour every job is overdue: 5,000 list items were 2 MB and 1.5 s.
ALERTS_SHOWN = 50
# The job columns the table, its ranking and the alert rules read: at 5,000 jobs, whole rows
# (43 columns) built on every render were ~200 ms of the page.
TABLE_JOB_FIELDS = (
    *alert_rules.RULE_JOB_FIELDS,
    "owner",
    "success_count",
    "failure_count",
    "retried_count",
    "timed_out_count",
    "last_duration_ms",
)


# --- view models (presentation only; numbers come from the domain) -----------------------


@dataclass(frozen=True)
class JobRow:
    metrics: jobs.JobMetrics
    next_run_at: datetime | None
    visible: bool
    schedule: schedule_health.JobSchedule
    stuck_runs: int


def matches(metrics: jobs.JobMetrics, query: str, category: str) -> bool:
    """The table's search rule (the page script applies the same one instantly)."""
    job = metrics.job
    if category and job.category != category:
        return False
    if not query:
        return True
    query = query.casefold()
    return any(query in value.casefold() for value in (job.job_id, job.name, job.owner))


def alerts_context(report: alert_rules.AlertsReport) -> dict:
    """The report, its first ALERTS_SHOWN alerts and how many more each rule has firing."""
    hidden: dict[str, int] = {}
    for alert in report.alerts[ALERTS_SHOWN:]:
        hidden[alert.rule] = hidden.get(alert.rule, 0) + 1
    return {
        "alerts": report,
        "alerts_shown": report.alerts[:ALERTS_SHOWN],
        "alerts_hidden": sum(hidden.values()),
        "alerts_hidden_by_rule": sorted(hidden.items(), key=lambda item: (-item[1], item[0])),
    }


def refresh_seconds(request: HttpRequest) -> int:
    """The auto-refresh interval: ``?refresh=`` (0 turns it off) or the setting."""
    raw = request.GET.get("refresh", "")
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if raw.isascii() and raw.isdigit() and len(raw) < 10:
        return min(int(raw), 3600)
    return int(conf.get("AUTO_REFRESH_SECONDS"))


def live_context(request: HttpRequest) -> dict:
    """Everything the refreshable partials show; a fixed number of queries for any job count."""
    query = request.GET.get("q", "").strip()
    category = request.GET.get("category", "").strip()
    now = timezone.now()
    next_runs = job_rows.current_next_run_times()
    stuck = schedule_health.stuck_runs_by_job(now=now)
    metrics = jobs.job_metrics(jobs=job_rows.current_jobs(TABLE_JOB_FIELDS))
    rows = [
        JobRow(
            metrics=m,
            next_run_at=None if m.job.paused else next_runs.get(m.job.job_id),
            visible=matches(m, query, category),
            schedule=schedule_health.job_schedule_of(
                job=m.job, next_run_at=next_runs.get(m.job.job_id), now=now
            ),
            stuck_runs=len(stuck.get(m.job.job_id, ())),
        )
        for m in metrics
    ]
    table = job_table.table_page(
        job_table.by_trouble(rows),
        page=request.GET.get("jobs_page", ""),
        query=query,
        category=category,
    )
    overview = scheduler_instances.scheduler_overview(now=now)
    focus = heat_focus(request)
    return {
        **alerts_context(
            alert_rules.alerts_report(now=now, jobs=[m.job for m in metrics], next_runs=next_runs)
        ),
        "summary": summary.dashboard_summary(now=now),
        "status": overview.status,
        "scheduler_running": overview.running,
        "roles": overview.roles,
        "scheduler_events": scheduler_events.recent_events(limit=5),
        "chain": notification_chain.notification_chain(),
        "rows": table.rows,
        "table": table,
        "visible_rows": table.matching,
        "categories": sorted({r.metrics.job.category for r in rows}),
        "query": query,
        "category": category,
        # Capped at scale (heatmap_view): the jobs with the most failures, the rest a link away.
        "heatmap_hour": heatmap_view(heatmaps.failure_heatmap(hours=24, now=now), focus),
        # Rollups included: the 30 days stay whole after old runs are pruned.
        "heatmap_day": heatmap_view(heatmaps.daily_failure_heatmap(days=30, now=now), focus),
        "heat_focus": focus,
        "heat_legend": heat_legend(),
        "updated_at": now,
        **incident_rows(request.user),
    }


# --- pages ------------------------------------------------------------------------------


@staff_member_required
@require_GET
def dashboard(request: HttpRequest) -> TemplateResponse:
    """The dashboard page: cards, scheduler status, notification chain, table and heatmap."""
    seconds = refresh_seconds(request)
    choices = sorted({*REFRESH_CHOICES, seconds})
    context = {
        **admin.site.each_context(request),
        **live_context(request),
        "title": _("Scheduler monitoring"),
        "refresh_seconds": seconds,
        "refresh_choices": choices,
        "tab": "heatmap" if request.GET.get("tab") == "heatmap" else "jobs",
    }
    return TemplateResponse(request, "scheduler_monitor/dashboard.html", context)


@staff_member_required
@require_GET
def dashboard_fragments(request: HttpRequest) -> HttpResponse:
    """The refreshable parts of the dashboard, rendered by the same partials as the page.

    Only what changed since the page's copy (fragment_diff): 304 when nothing did.
    """
    fragments = fragment_diff.render_fragments(live_context(request), request)
    tag = fragment_diff.etag(fragments)
    sent = [t.removeprefix("W/") for t in parse_etags(request.headers.get("If-None-Match", ""))]
    if tag in sent:
        response = HttpResponseNotModified()
    else:
        known = fragment_diff.known_digests(request.headers.get("X-SM-Known", ""))
        response = HttpResponse(fragment_diff.changed_only(fragments, known))
    response["ETag"] = tag
    response["Cache-Control"] = "no-cache, private"
    patch_vary_headers(response, ["X-SM-Known"])
    return response


@staff_member_required
@require_GET
def job_detail(request: HttpRequest, job_id: str) -> TemplateResponse:
    """One job: metadata, window statistics, charts, run history and actions."""
    # No job id holds a NUL, and PostgreSQL refuses to compare text with one.
    job = jobs.job_get(job_id=job_id) if "\x00" not in job_id else None
    if job is None:
        raise Http404(_("No job with id %(job_id)s") % {"job_id": job_id})
    status = request.GET.get("status", "")
    if status and status not in RunStatus.values:
        status = ""
    stats = jobs.job_window_statistics(job_id=job.job_id)
    recent = runs.job_recent_durations(job=job, limit=CHART_RUNS)
    hours = runs.job_hourly_outcomes(job=job, days=7)
    page = Paginator(runs.job_runs(job=job, status=status or None), RUNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    recent_stats = summarise(r.duration_ms for r in recent) if recent else EMPTY_STATS
    now = timezone.now()
    schedule = schedule_health.job_schedule_of(
        job=job, next_run_at=jobs.job_next_run_times().get(job.job_id), now=now
    )
    delays = schedule_health.job_lateness_statistics(
        hours=START_DELAY_HOURS, job_ids=[job.job_id], now=now
    )
    context = {
        **admin.site.each_context(request),
        "title": job.name,
        "job": job,
        "next_run_at": schedule.next_run_at,
        "schedule": schedule,
        "stuck_runs": schedule_health.stuck_runs_by_job(now=now).get(job.job_id, []),
        "start_delay": delays.get(job.job_id, EMPTY_STATS),
        "start_delay_hours": START_DELAY_HOURS,
        "stats": stats,
        "success_rate": jobs.success_rate(job.success_count, job.failure_count),
        "recent_stats": recent_stats,
        "duration_chart": charts.duration_chart(
            [
                (
                    r.duration_ms,
                    r.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                    r.status != RunStatus.SUCCESS,
                )
                for r in recent
            ],
            marker=recent_stats.p95_duration_ms,
        )
        if recent
        else None,
        "outcome_chart": charts.outcome_chart([(h.hour, h.successes, h.failures) for h in hours]),
        "week_successes": sum(h.successes for h in hours),
        "week_failures": sum(h.failures for h in hours),
        "page": page,
        "status_filter": status,
        "statuses": RunStatus.choices,
        "can_trigger": request.user.has_perm("scheduler_monitor.trigger_job"),
        "can_pause": request.user.has_perm("scheduler_monitor.change_jobdefinition"),
        **job_control_context(request, job),
        "incident_history": list(incidents.incident_list(job_id=job.job_id)[:JOB_INCIDENTS]),
    }
    return TemplateResponse(request, "scheduler_monitor/job_detail.html", context)


ACTIONS = {
    "trigger": (
        lambda job, actor, form: job_control.job_trigger(
            job_id=job.job_id,
            requested_by=actor.username,
            params=job_params_from_form(job=job, form=form),
            actor=actor,
        ),
        "scheduler_monitor.trigger_job",
    ),
    "pause": (
        lambda job, actor, form: job_control.job_pause(job_id=job.job_id, actor=actor),
        "scheduler_monitor.change_jobdefinition",
    ),
    "resume": (
        lambda job, actor, form: job_control.job_resume(job_id=job.job_id, actor=actor),
        "scheduler_monitor.change_jobdefinition",
    ),
}
ACTION_DONE = {
    "trigger": gettext_lazy("Run of %(job)s requested; the scheduler starts it within seconds."),
    "pause": gettext_lazy("%(job)s paused."),
    "resume": gettext_lazy("%(job)s resumed."),
}


@staff_member_required
@require_POST
def job_action(request: HttpRequest, job_id: str, action: str) -> HttpResponse:
    """Trigger, pause or resume a job (POST with CSRF), then back to the job page."""
    if action not in ACTIONS:
        raise Http404(_("Unknown action %(action)s") % {"action": action})
    service, permission = ACTIONS[action]
    if not request.user.has_perm(permission):
        return HttpResponse(_("You may not %(action)s jobs.") % {"action": action}, status=403)
    job = JobDefinition.objects.filter(job_id=job_id).first() if "\x00" not in job_id else None
    if job is None:
        raise Http404(_("No job with id %(job_id)s") % {"job_id": job_id})
    try:
        service(job, request_actor(request), request.POST)
    except (
        job_control.JobNotFound,
        job_control.JobBusy,
        job_control.TriggerLimitReached,
        ParamsInvalid,
    ) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, str(ACTION_DONE[action]) % {"job": job.job_id})
    return redirect(reverse("scheduler_monitor_job", args=[job.job_id]))


# --- Prometheus export --------------------------------------------------------------------


@staff_member_required
@require_GET
def export_prometheus(request: HttpRequest) -> HttpResponse:
    """Download the current exposition as ``scheduler-metrics-<UTC timestamp>.prom``."""
    body = scheduler_exposition()
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Content-Disposition"] = f'attachment; filename="scheduler-metrics-{stamp}.prom"'
    return response
