"""Alert rules: each fires on data built to trigger it and stays quiet otherwise."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_apscheduler.models import DjangoJob

from scheduler_monitor import scheduler_instances
from scheduler_monitor.alert_rules import alerts_status, firing_alerts
from scheduler_monitor.jobs import job_list
from scheduler_monitor.models import JobRun, RunStatus
from scheduler_monitor.window import get_window
from tests.sqlite_plans import query_plan

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
F, S, A = RunStatus.FAILURE, RunStatus.SUCCESS, RunStatus.ABANDONED


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def runs(record_run):
    """Record runs oldest first, one a minute, ending ``ago`` before now."""

    def make(job, statuses, *, ago=timedelta(minutes=1), durations=None):
        durations = durations or [100.0] * len(statuses)
        for i, (status, duration) in enumerate(zip(statuses, durations, strict=True)):
            at = NOW - ago - timedelta(minutes=len(statuses) - 1 - i)
            record_run(job, status=status, duration_ms=duration, started_at=at)

    return make


def fired(rule, **extra):
    """(rule, job_id) pairs firing for one rule."""
    rule = {"name": "r", "severity": "warning", **rule, **extra}
    return {(a.rule, a.job_id) for a in firing_alerts(rules=[rule])}


@pytest.mark.django_db
def test_it_fires_on_a_failure_ratio_above_the_threshold(make_job, runs):
    """3 of 4 failed in the hour fires; 2 of 4, 3 of 3 (too few) and old failures do not."""
    high, even, few, old = (make_job() for _ in range(4))
    runs(high, [F, S, F, F])
    runs(even, [F, S, F, S])
    runs(few, [F, F, F])
    runs(old, [F, F, F, F], ago=timedelta(hours=2))
    rule = {"kind": "failure_ratio", "window_minutes": 60, "threshold": 0.5, "min_runs": 4}
    assert fired(rule) == {("r", high.job_id)}
    (alert,) = firing_alerts(rules=[{"name": "r", "severity": "warning", **rule}])
    assert alert.value == 0.75 and alert.threshold == 0.5
    assert "3 of 4 runs failed" in alert.message


@pytest.mark.django_db
def test_scheduled_times_that_passed_without_a_run_count_as_failed_runs(make_job, runs):
    """A gap of 5 missed times beside 2 successes is 5 of 7 failed; a gap before the
    window does not count, nor does one of another job."""
    from scheduler_monitor import gaps
    from scheduler_monitor.recording import get_recorder

    gappy, quiet = make_job(), make_job()
    runs(gappy, [S, S])
    runs(quiet, [S, S, S, S])

    def gap(job, at, count):
        last = at + timedelta(seconds=count - 1)
        get_recorder().save(gaps.gap_record(job.job_id, at, last, count, "test"))

    gap(gappy, NOW - timedelta(minutes=30), 5)
    gap(quiet, NOW - timedelta(hours=3), 50)
    rule = {"kind": "failure_ratio", "window_minutes": 60, "threshold": 0.5, "min_runs": 4}
    (alert,) = firing_alerts(rules=[{"name": "r", "severity": "warning", **rule}])
    assert alert.job_id == gappy.job_id
    assert alert.value == pytest.approx(5 / 7)
    assert "5 of 7 runs failed in the last 60 min, 5 of them missed" in alert.message


@pytest.mark.django_db
def test_it_fires_on_n_consecutive_failures(make_job, runs):
    """Last three failed (abandoned counts) fires; a success in between or last does not."""
    streak, recovered, broken, never = make_job(), make_job(), make_job(), make_job()
    runs(streak, [S, F, A, F])
    runs(recovered, [F, F, F, S])
    runs(broken, [F, S, F, F])
    runs(never, [F, F, F])  # never succeeded: every run counts
    assert fired({"kind": "consecutive_failures", "count": 3}) == {
        ("r", streak.job_id),
        ("r", never.job_id),
    }
    assert fired({"kind": "consecutive_failures", "count": 4}) == set()


@pytest.mark.parametrize("failing", [2, 20])
def test_a_failing_streak_costs_the_same_queries_for_any_number_of_failing_jobs(
    failing, make_job, runs, django_assert_num_queries
):
    for _ in range(failing):
        runs(make_job(), [S, F, F])
    rule = {"name": "r", "severity": "warning", "kind": "consecutive_failures", "count": 2}
    # The jobs (as text, then the rows not built before: job_rows.py), every failing streak.
    with django_assert_num_queries(3):
        assert len(firing_alerts(rules=[rule])) == failing


def test_a_failing_streak_skips_running_missed_and_skipped_runs(make_job, runs):
    """Only runs that ran to an end (or were abandoned) make or break a streak."""
    job = make_job()
    runs(job, [S, F, RunStatus.MISSED, F, RunStatus.SKIPPED, RunStatus.RUNNING, A])
    assert fired({"kind": "consecutive_failures", "count": 3}) == {("r", job.job_id)}
    assert fired({"kind": "consecutive_failures", "count": 4}) == set()


def test_a_failing_streak_is_read_through_the_job_index(make_job, runs, planner_statistics):
    # With statistics gathered before the (status, started_at, job, id) index existed,
    # SQLite read every failed run of the table through it instead: 50 ms per job.
    job = make_job()
    runs(job, [S, F, F])
    with CaptureQueriesContext(connection) as queries:
        assert fired({"kind": "consecutive_failures", "count": 2}) == {("r", job.job_id)}
    [streak_sql] = [q["sql"] for q in queries if "COALESCE((SELECT" in q["sql"]]
    steps = query_plan(streak_sql).split(" | ")
    # The runs (subqueries U0, V0): the job's latest success, its failures since then.
    run_reads = [step for step in steps if step.startswith(("SEARCH U0", "SEARCH V0"))]
    assert len(run_reads) == 2, steps
    assert all("USING INDEX sm_run_job_started (job_id=?" in step for step in run_reads), steps


@pytest.mark.django_db
def test_it_fires_on_a_p95_above_a_fixed_threshold(make_job, runs):
    """p95 of 100..1000 ms is 955 ms: above 900 fires, above 1000 does not."""
    job = make_job()
    runs(job, [S] * 10, durations=[100.0 * i for i in range(1, 11)])
    rule = {"kind": "p95", "window_minutes": 60, "min_samples": 5}
    assert fired(rule, threshold_ms=900) == {("r", job.job_id)}
    assert fired(rule, threshold_ms=1000) == set()
    assert fired(rule, threshold_ms=900, min_samples=11) == set()
    (alert,) = firing_alerts(
        rules=[{"name": "r", "severity": "warning", **rule, "threshold_ms": 900}]
    )
    assert alert.value == pytest.approx(955.0)


@pytest.mark.django_db
def test_it_fires_on_a_p95_above_k_times_its_own_longer_term_p95(make_job, runs):
    """Recent p95 1000 ms vs 100 ms the day before: factor 3 fires, factor 20 does not."""
    slow, steady = make_job(), make_job()
    for job, recent_ms in ((slow, 1000.0), (steady, 110.0)):
        runs(job, [S] * 30, ago=timedelta(hours=3), durations=[100.0] * 30)
        runs(job, [S] * 10, durations=[recent_ms] * 10)
    rule = {"kind": "p95", "window_minutes": 60, "min_samples": 5, "baseline_hours": 24}
    assert fired(rule, factor=3) == {("r", slow.job_id)}
    assert fired(rule, factor=20) == set()
    (alert,) = firing_alerts(rules=[{"name": "r", "severity": "warning", **rule, "factor": 3}])
    assert alert.threshold == pytest.approx(300.0)


@pytest.mark.django_db
def test_it_fires_for_overdue_jobs_only(make_job):
    """A job 7 min past due with a 6 min grace fires; one 5 min past due does not."""
    late, fine = make_job(expected_interval_seconds=3600), make_job(expected_interval_seconds=3600)
    for job, minutes in ((late, 7), (fine, 5)):
        DjangoJob.objects.create(
            id=job.job_id, next_run_time=NOW - timedelta(minutes=minutes), job_state=b""
        )
    assert fired({"kind": "overdue"}) == {("r", late.job_id)}


@pytest.mark.django_db
def test_it_fires_for_stuck_runs_only(make_job):
    """A run past the default max runtime fires; a younger one does not."""
    stuck, young = make_job(), make_job()
    JobRun.objects.create(job=stuck, status="running", started_at=NOW - timedelta(hours=2))
    JobRun.objects.create(job=young, status="running", started_at=NOW - timedelta(minutes=2))
    assert fired({"kind": "stuck"}) == {("r", stuck.job_id)}


@pytest.mark.django_db
def test_it_fires_when_the_scheduler_is_down(frozen):
    """No scheduler or a stale heartbeat fires; a fresh heartbeat is quiet."""
    assert fired({"kind": "scheduler_down"}) == {("r", None)}
    scheduler_instances.scheduler_instance_start()
    assert fired({"kind": "scheduler_down"}) == set()
    frozen.shift(60)
    (alert,) = firing_alerts(
        rules=[{"name": "r", "severity": "critical", "kind": "scheduler_down"}]
    )
    assert "last heartbeat 60 s ago" in alert.message


@pytest.mark.django_db
def test_it_limits_a_rule_to_its_jobs_and_categories(make_job, runs):
    """jobs / categories narrow a rule to the jobs they name."""
    billing, search = make_job(category="Billing"), make_job(category="Search")
    runs(billing, [F, F, F])
    runs(search, [F, F, F])
    rule = {"kind": "consecutive_failures", "count": 3}
    assert fired(rule, categories=["Billing"]) == {("r", billing.job_id)}
    assert fired(rule, jobs=[search.job_id]) == {("r", search.job_id)}


@pytest.mark.django_db
def test_it_is_quiet_on_a_healthy_system(make_job, runs):
    """The default rules fire nothing when jobs succeed on time and the scheduler is up."""
    scheduler_instances.scheduler_instance_start()
    job = make_job(expected_interval_seconds=60)
    runs(job, [S] * 20)
    DjangoJob.objects.create(
        id=job.job_id, next_run_time=NOW + timedelta(seconds=30), job_state=b""
    )
    assert firing_alerts() == []
    assert alerts_status([]) == "ok"


def check(*args):
    """Run the command; return (exit code, output)."""
    out = io.StringIO()
    try:
        call_command("check_scheduler_alerts", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


@pytest.mark.django_db
def test_it_exits_0_with_ok_when_nothing_fires(make_job):
    """Healthy: exit 0, 'OK' line, JSON status ok with no alerts."""
    scheduler_instances.scheduler_instance_start()
    code, text = check()
    assert (code, text.strip()) == (0, "OK: no alert is firing.")
    code, text = check("--json")
    assert code == 0
    assert json.loads(text) == {"status": "ok", "exit_code": 0, "alerts": [], "incidents": []}


@pytest.mark.django_db
def test_it_exits_1_on_warnings_only(settings, make_job, runs):
    """Only a warning firing: exit 1 and a table row naming rule and job."""
    scheduler_instances.scheduler_instance_start()
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "ALERT_RULES": [
            {"name": "flaky", "kind": "consecutive_failures", "count": 2, "severity": "warning"}
        ],
    }
    job = make_job(job_id="sync_jira_issues")
    runs(job, [F, F])
    code, text = check()
    lines = text.strip().splitlines()
    assert code == 1
    assert lines[0] == "WARNING: 1 alert(s) firing."
    assert lines[1].split() == ["severity", "rule", "job", "message"]
    assert lines[2].split()[:3] == ["warning", "flaky", "sync_jira_issues"]


@pytest.mark.django_db
def test_it_exits_2_when_a_critical_alert_fires_and_says_so_in_json(settings, make_job, runs):
    """Critical beats warning: exit 2; the JSON lists every alert, critical first."""
    settings.SCHEDULER_MONITOR = {
        **settings.SCHEDULER_MONITOR,
        "ALERT_RULES": [
            {"name": "flaky", "kind": "consecutive_failures", "count": 2, "severity": "warning"},
            {"name": "down", "kind": "scheduler_down", "severity": "critical"},
        ],
    }
    job = make_job(job_id="sync_jira_issues")
    runs(job, [F, F])
    code, text = check("--json")
    payload = json.loads(text)
    assert code == 2
    assert payload["status"] == "critical" and payload["exit_code"] == 2
    assert [(a["rule"], a["severity"], a["job_id"]) for a in payload["alerts"]] == [
        ("down", "critical", None),
        ("flaky", "warning", "sync_jira_issues"),
    ]
    assert payload["alerts"][1]["message"] == "the last 2 runs failed"


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"kind": "overdue"}, "must be a list"),
        ([{"name": "x", "kind": "nope", "severity": "warning"}], "needs a kind"),
        ([{"name": "x", "kind": "overdue", "severity": "page"}], "needs a severity"),
        ([{"name": "x", "kind": "overdue", "severity": "warning", "count": 3}], "unknown keys"),
        ([{"name": "x", "kind": "p95", "severity": "warning"}], "give threshold_ms or factor"),
        (
            [{"name": "x", "kind": "failure_ratio", "severity": "warning", "threshold": 2}],
            "threshold is a ratio below 1",
        ),
        (
            [{"name": "x", "kind": "consecutive_failures", "severity": "warning", "count": 2.5}],
            "count must be a positive integer",
        ),
        (
            [
                {"name": "x", "kind": "overdue", "severity": "warning"},
                {"name": "x", "kind": "stuck", "severity": "warning"},
            ],
            "unique non-empty name",
        ),
    ],
)
def test_it_refuses_bad_rules(settings, rules, message):
    """A bad ALERT_RULES setting is an ImproperlyConfigured saying what is wrong."""
    with pytest.raises(ImproperlyConfigured, match=message):
        settings.SCHEDULER_MONITOR = {"ALERT_RULES": rules}


@pytest.mark.django_db
def test_it_costs_the_same_queries_for_2_or_20_healthy_jobs(make_job, runs):
    """firing_alerts() is a fixed number of queries whatever the number of jobs.

    Only the consecutive-failures rule adds one query per job whose last run failed.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    scheduler_instances.scheduler_instance_start()

    def count_queries():
        firing_alerts()  # warm the window first
        with CaptureQueriesContext(connection) as captured:
            firing_alerts()
        return len(captured)

    for _ in range(2):
        runs(make_job(expected_interval_seconds=60), [S] * 3)
    few = count_queries()
    for _ in range(18):
        runs(make_job(expected_interval_seconds=60), [S] * 3)
    assert count_queries() == few


def test_the_timed_out_rule_fires_for_a_recent_time_out_and_names_thread_jobs(make_job, settings):
    """Last run timed out within the window: an alert; a thread job's says it may still run."""
    from datetime import timedelta

    from django.utils import timezone

    from scheduler_monitor.alert_rules import firing_alerts

    now = timezone.now()
    make_job("thread", last_status="timed_out", last_run_at=now, timeout_seconds=30)
    make_job("proc", last_status="timed_out", last_run_at=now, isolation="process")
    make_job("old", last_status="timed_out", last_run_at=now - timedelta(hours=2))
    make_job("fine", last_status="success", last_run_at=now)
    settings.SCHEDULER_MONITOR = {"DEFAULT_TIMEOUT_SECONDS": 600}
    rule = [{"name": "to", "kind": "timed_out", "severity": "warning"}]
    alerts = {a.job_id: a for a in firing_alerts(rules=rule, now=now)}
    assert set(alerts) == {"thread", "proc"}
    assert alerts["thread"].message == (
        "last run timed out after 30 s; it may still be running: a thread cannot be stopped"
    )
    assert alerts["proc"].message == "last run timed out after 600 s"
    assert alerts["proc"].threshold == 600


def test_the_p95_rule_reads_the_rolling_window_not_the_run_table(
    make_job, runs, settings, django_assert_num_queries
):
    """Recent and baseline p95 come from the window: no query once it is fresh."""
    settings.SCHEDULER_MONITOR = {"WINDOW_REFRESH_INTERVAL": 3600}
    slow = make_job()
    runs(slow, [S] * 30, ago=timedelta(hours=3), durations=[100.0] * 30)
    runs(slow, [S] * 10, durations=[1000.0] * 10)
    get_window().refresh(force=True)
    jobs = list(job_list())
    rule = {"name": "r", "severity": "warning", "kind": "p95", "min_samples": 5, "factor": 3}
    with django_assert_num_queries(0):
        (alert,) = firing_alerts(rules=[rule], jobs=jobs)
    assert (alert.job_id, alert.value, alert.threshold) == (slow.job_id, 1000.0, 300.0)


def test_the_p95_baseline_reaches_back_as_far_as_the_window_keeps_runs(make_job, runs, settings):
    """With HISTORY_SIZE 20, only the 10 runs before the recent ones make the baseline."""
    settings.SCHEDULER_MONITOR = {"HISTORY_SIZE": 20}
    job = make_job()
    runs(job, [S] * 30, ago=timedelta(hours=5), durations=[1000.0] * 30)  # beyond the window
    runs(job, [S] * 10, ago=timedelta(hours=2), durations=[100.0] * 10)
    runs(job, [S] * 10, durations=[400.0] * 10)
    (alert,) = firing_alerts(
        rules=[{"name": "r", "severity": "warning", "kind": "p95", "min_samples": 5, "factor": 3}]
    )
    assert alert.threshold == pytest.approx(300.0)


def test_alert_texts_and_units_follow_the_active_language(make_job, runs):
    from django.utils import translation

    job = make_job()
    runs(job, [F, F, F, F])
    rule = {"name": "r", "severity": "warning", "kind": "failure_ratio", "min_runs": 4}
    with translation.override("zh-hans"):
        (alert,) = firing_alerts(rules=[rule])
    assert alert.message == "最近 60 分钟内 4 次运行中有 4 次失败（100% > 50%）"
    with translation.override("zh-hans"):
        (down,) = firing_alerts(
            rules=[{"name": "d", "severity": "critical", "kind": "scheduler_down"}]
        )
    assert down.message == "从未启动过调度器"


@pytest.mark.django_db
def test_every_rule_firing_for_2_or_8_jobs_costs_the_same_queries(make_job, runs):
    """The jobs are loaded with only the columns the rules read: a rule reading another
    one would cost a query per job here."""
    scheduler_instances.scheduler_instance_start()

    def firing_job():
        job = make_job(
            expected_interval_seconds=3600,
            last_status="timed_out",
            timeout_seconds=30,
        )
        runs(job, [S, F, F, F, F], durations=[100.0] * 4 + [9000.0])
        job.refresh_from_db()
        job.last_status, job.timeout_seconds = "timed_out", 30
        job.save(update_fields=["last_status", "timeout_seconds"])
        DjangoJob.objects.create(
            id=job.job_id, next_run_time=NOW - timedelta(hours=1), job_state=b""
        )
        JobRun.objects.create(job=job, status="running", started_at=NOW - timedelta(hours=3))

    def fired_kinds_and_queries():
        firing_alerts()  # warm the window first
        with CaptureQueriesContext(connection) as captured:
            alerts = firing_alerts()
        return {a.kind for a in alerts}, len(captured)

    for _ in range(2):
        firing_job()
    kinds, few = fired_kinds_and_queries()
    assert kinds >= {"failure_ratio", "consecutive_failures", "overdue", "stuck", "timed_out"}
    for _ in range(6):
        firing_job()
    assert fired_kinds_and_queries() == (kinds, few)
