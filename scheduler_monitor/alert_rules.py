"""Alert rules (``SCHEDULER_MONITOR["ALERT_RULES"]``, see conf.py): the evaluators
of each rule kind, the firing alerts and the report over them.
"""

import functools
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from scheduler_monitor import conf, gaps
from scheduler_monitor.failure_ratio_counts import runs_and_failures_per_job
from scheduler_monitor.job_rows import current_jobs, current_next_run_times
from scheduler_monitor.models import (
    FAILED_STATUSES,
    JobDefinition,
    JobRun,
    RunStatus,
)
from scheduler_monitor.schedule_health import overdue_jobs, stuck_runs
from scheduler_monitor.scheduler_instances import (
    scheduler_roles,
    scheduler_runs_jobs,
    scheduler_status,
)
from scheduler_monitor.stats import percentile
from scheduler_monitor.timestamps import EPOCH, iso_utc
from scheduler_monitor.window import get_window

SEVERITY_EXIT_CODES = {"ok": 0, "warning": 1, "critical": 2}
# The job columns the rules read (and Alert shows). Loading only these, and building only
# the rows that changed since the last evaluation (job_rows.py): building a thousand whole
# rows (three JSON columns, six dates each) was most of a GET /alerts at production rate.
# A rule that reads another column costs a query per job: the tests pin the query count
# with every rule firing.
RULE_JOB_FIELDS = (
    "job_id",
    "name",
    "category",
    "paused",
    "last_status",
    "last_run_at",
    "timeout_seconds",
    "isolation",
    "grace_seconds",
    "expected_interval_seconds",
)


@dataclass(frozen=True)
class Alert:
    """One firing rule, for one job (or for the scheduler as a whole)."""

    rule: str
    kind: str
    severity: str
    message: str
    job_id: str | None = None
    job_name: str | None = None
    value: float | None = None
    threshold: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def alerts_status(alerts: list[Alert]) -> str:
    """``"critical"``, ``"warning"`` or ``"ok"``: the worst severity firing."""
    severities = {a.severity for a in alerts}
    for severity in ("critical", "warning"):
        if severity in severities:
            return severity
    return "ok"


class RuleReads:
    """What several rules read, read once an evaluation (or given by the caller)."""

    def __init__(self, next_runs: dict[str, datetime | None] | None = None):
        self._next_runs = next_runs

    @property
    def next_runs(self) -> dict[str, datetime | None]:
        if self._next_runs is None:
            self._next_runs = current_next_run_times()
        return self._next_runs


def firing_alerts(
    *,
    now: datetime | None = None,
    rules: list[dict] | None = None,
    jobs: list[JobDefinition] | None = None,
    next_runs: dict[str, datetime | None] | None = None,
) -> list[Alert]:
    """Evaluate every alert rule; return the firing ones, critical first, then by rule.

    ``jobs``: the jobs of ``job_list()``, ``next_runs``: the job store's next run times
    (``job_next_run_times()``), when the caller has them already.
    """
    now = now or timezone.now()
    rules = conf.alert_rules(rules)
    jobs = current_jobs(RULE_JOB_FIELDS) if jobs is None else jobs
    reads = RuleReads(next_runs)
    alerts: list[Alert] = []
    for rule in rules:
        scoped = _rule_jobs(rule, jobs)
        alerts.extend(ALERT_EVALUATORS[rule["kind"]](rule, scoped, now, reads))
    order = {"critical": 0, "warning": 1}
    return sorted(alerts, key=lambda a: (order[a.severity], a.rule, a.job_id or ""))


def _rule_jobs(rule: dict, jobs: list[JobDefinition]) -> list[JobDefinition]:
    if "jobs" in rule:
        jobs = [j for j in jobs if j.job_id in rule["jobs"]]
    if "categories" in rule:
        jobs = [j for j in jobs if j.category in rule["categories"]]
    return jobs


def _alert(rule: dict, message: str, job: JobDefinition | None = None, **numbers) -> Alert:
    return Alert(
        rule=rule["name"],
        kind=rule["kind"],
        severity=rule["severity"],
        message=message,
        job_id=job.job_id if job else None,
        job_name=job.name if job else None,
        **numbers,
    )


def _failure_ratio_alerts(rule, jobs, now, reads) -> list[Alert]:
    by_pk = {j.pk: j for j in jobs}
    since = now - timedelta(minutes=rule["window_minutes"])
    # Every job's runs of the window, kept or not below: an IN list of a thousand ids
    # cost more to send (psycopg splits the query text: ~25 ms) than the extra rows. Runs
    # inside maintenance windows (silences.py) do not count against the job.
    totals = runs_and_failures_per_job(since=since, now=now)
    # Scheduled times that passed without a run (gaps.py) count as runs that failed.
    missed = gaps.missed_times_per_job(since=since)
    for job_pk, count in missed.items():
        total = totals.setdefault(job_pk, [0, 0])
        total[0] += count
        total[1] += count
    alerts = []
    for job_pk, (runs, failures) in totals.items():
        if job_pk not in by_pk or runs <= 0:
            continue
        ratio = failures / runs
        if runs >= rule["min_runs"] and ratio > rule["threshold"]:
            skipped = (
                _(", %(count)s of them missed") % {"count": missed[job_pk]}
                if missed.get(job_pk)
                else ""
            )
            alerts.append(
                _alert(
                    rule,
                    _(
                        "%(failures)s of %(runs)s runs failed in the last %(minutes)s min"
                        "%(missed)s (%(ratio)s > %(threshold)s)"
                    )
                    % {
                        "failures": failures,
                        "runs": runs,
                        "minutes": f"{rule['window_minutes']:g}",
                        "missed": skipped,
                        "ratio": f"{ratio:.0%}",
                        "threshold": f"{rule['threshold']:.0%}",
                    },
                    by_pk[job_pk],
                    value=ratio,
                    threshold=rule["threshold"],
                )
            )
    return alerts


def _consecutive_failure_alerts(rule, jobs, now, reads) -> list[Alert]:
    count = rule["count"]
    # Only a job whose latest run failed can have a failing streak.
    failing = {j.pk: j for j in jobs if j.last_status in FAILED_STATUSES}
    if not failing:
        return []
    streaks = failing_streaks(job_pks=list(failing))
    return [
        _alert(
            rule,
            _("the last %(count)s runs failed") % {"count": count},
            job,
            value=count,
            threshold=count,
        )
        for pk, job in failing.items()
        if streaks.get(pk, 0) >= count
    ]


def failing_streaks(*, job_pks: list[int]) -> dict[int, int]:
    """Failed and abandoned runs of each job since its latest success (one query).

    That is how many of its latest runs failed in a row (running, missed and skipped runs
    neither make nor break a streak). The runs are read through each job's (job,
    started_at) range; the statuses are written as "none of the others" so no planner
    prefers a status index (SQLite did, with statistics taken before the
    (status, started_at, job, id) index existed: 50 ms per job).
    """
    not_failed = set(RunStatus.values) - set(FAILED_STATUSES)
    latest_success = (
        JobRun.objects.filter(job=OuterRef(OuterRef("pk")))
        .exclude(status__in=set(RunStatus.values) - {RunStatus.SUCCESS})
        .order_by("-started_at")
        .values("started_at")[:1]
    )
    failed_since = (
        JobRun.objects.filter(job=OuterRef("pk"))
        .alias(since=Coalesce(Subquery(latest_success), Value(EPOCH)))
        .filter(started_at__gt=F("since"))
        .exclude(status__in=not_failed)
        .order_by()
        .values("job")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return dict(
        JobDefinition.objects.filter(pk__in=job_pks)
        .annotate(streak=Coalesce(Subquery(failed_since), 0))
        .values_list("pk", "streak")
    )


def _p95_alerts(rule, jobs, now, reads) -> list[Alert]:
    """p95 of the recent runs against a threshold and k x the job's own earlier p95.

    Both read the rolling window (the job's last HISTORY_SIZE runs with their start
    times), never the run table, so the cost does not grow with the run rate.
    """
    window = get_window()
    window.refresh()
    window_start = now - timedelta(minutes=rule["window_minutes"])
    baseline_start = window_start - timedelta(hours=rule["baseline_hours"])
    alerts = []
    for job in jobs:
        durations = window.durations_since(job.job_id, window_start)
        if len(durations) < rule["min_samples"]:
            continue
        durations.sort()
        p95 = percentile(durations, 0.95)
        limits = []
        if rule.get("threshold_ms") is not None:
            limits.append(
                (rule["threshold_ms"], _("%(ms)s ms") % {"ms": f"{rule['threshold_ms']:g}"})
            )
        if rule.get("factor"):
            long_term, samples = window.baseline_p95(
                job.job_id, since=baseline_start, until=window_start
            )
            if samples >= rule["min_samples"]:
                limits.append(
                    (
                        rule["factor"] * long_term,
                        _("%(factor)s x its p95 of the %(hours)s h before (%(ms)s ms)")
                        % {
                            "factor": f"{rule['factor']:g}",
                            "hours": f"{rule['baseline_hours']:g}",
                            "ms": f"{long_term:.1f}",
                        },
                    )
                )
        exceeded = [(limit, text) for limit, text in limits if p95 > limit]
        if exceeded:
            limit, text = min(exceeded)
            alerts.append(
                _alert(
                    rule,
                    _("p95 %(ms)s ms over the last %(minutes)s min is above %(limit)s")
                    % {
                        "ms": f"{p95:.1f}",
                        "minutes": f"{rule['window_minutes']:g}",
                        "limit": text,
                    },
                    job,
                    value=p95,
                    threshold=limit,
                )
            )
    return alerts


def _overdue_alerts(rule, jobs, now, reads) -> list[Alert]:
    return [
        _alert(
            rule,
            _("due %(late)s s ago (grace %(grace)s s)")
            % {"late": f"{s.late_seconds:.0f}", "grace": f"{s.grace_seconds:.0f}"},
            s.job,
            value=s.late_seconds,
            threshold=s.grace_seconds,
        )
        for s in overdue_jobs(jobs=jobs, now=now, next_runs=reads.next_runs)
    ]


def _stuck_alerts(rule, jobs, now, reads) -> list[Alert]:
    wanted = {j.pk for j in jobs}
    return [
        _alert(
            rule,
            _("run %(run)s running for %(seconds)s s (max %(max)s s, %(source)s)")
            % {
                "run": s.run.pk,
                "seconds": f"{s.running_seconds:.0f}",
                "max": f"{s.max_runtime_seconds:.0f}",
                "source": s.derived_from,
            },
            s.run.job,
            value=s.running_seconds,
            threshold=s.max_runtime_seconds,
        )
        for s in stuck_runs(now=now)
        if s.run.job_id in wanted
    ]


def _scheduler_down_alerts(rule, jobs, now, reads) -> list[Alert]:
    read_status = functools.cache(lambda: scheduler_status(now=now))  # read once at most
    if scheduler_runs_jobs(scheduler_roles(now=now), lambda: read_status().running):
        return []
    status = read_status()
    if status.running:
        message = _("no live scheduler holds the lease; a standby takes it over when it expires")
    elif status.instance is None:
        message = _("no scheduler has ever started")
    elif status.instance.stopped_at is not None:
        message = _("scheduler %(instance)s stopped at %(at)s") % {
            "instance": status.instance,
            "at": iso_utc(status.instance.stopped_at),
        }
    else:
        message = _("scheduler %(instance)s last heartbeat %(age)s s ago") % {
            "instance": status.instance,
            "age": f"{status.heartbeat_age_seconds:.0f}",
        }
    return [_alert(rule, message, value=status.heartbeat_age_seconds)]


def _timed_out_alerts(rule, jobs, now, reads) -> list[Alert]:
    """Jobs whose last run passed its time limit within the window (no query: the job row)."""
    since = now - timedelta(minutes=rule["window_minutes"])
    alerts = []
    for job in jobs:
        if job.last_status != RunStatus.TIMED_OUT or not job.last_run_at or job.last_run_at < since:
            continue
        limit = job.timeout_seconds or conf.get("DEFAULT_TIMEOUT_SECONDS")
        message = f"last run timed out after {limit or 0:g} s"
        if job.isolation != "process":
            message += "; it may still be running: a thread cannot be stopped"
        alerts.append(_alert(rule, message, job, threshold=limit))
    return alerts


ALERT_EVALUATORS = {
    "timed_out": _timed_out_alerts,
    "failure_ratio": _failure_ratio_alerts,
    "consecutive_failures": _consecutive_failure_alerts,
    "p95": _p95_alerts,
    "overdue": _overdue_alerts,
    "stuck": _stuck_alerts,
    "scheduler_down": _scheduler_down_alerts,
}


@dataclass(frozen=True)
class AlertsReport:
    """The firing alerts and the worst severity among them."""

    alerts: list[Alert]
    evaluated_at: datetime

    @property
    def status(self) -> str:
        return alerts_status(self.alerts)

    def as_dict(self) -> dict:
        counts = {"critical": 0, "warning": 0}
        for alert in self.alerts:
            counts[alert.severity] += 1
        return {
            "status": self.status,
            "evaluated_at": iso_utc(self.evaluated_at),
            "total": len(self.alerts),
            **counts,
            "alerts": [a.as_dict() for a in self.alerts],
        }


def alerts_report(
    *,
    now: datetime | None = None,
    jobs: list[JobDefinition] | None = None,
    next_runs: dict[str, datetime | None] | None = None,
) -> AlertsReport:
    """Evaluate the configured alert rules now (over ``jobs`` and ``next_runs`` if read)."""
    now = now or timezone.now()
    alerts = firing_alerts(now=now, jobs=jobs, next_runs=next_runs)
    return AlertsReport(alerts=alerts, evaluated_at=now)
