"""Silences and maintenance windows: when they are active, what they mute, marked runs."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from scheduler_monitor.alert_rules import Alert
from scheduler_monitor.incidents import incidents_evaluate
from scheduler_monitor.models import (
    Incident,
    JobRun,
    MaintenanceWindow,
    NotificationChannel,
    OutboxMessage,
    RunStatus,
)
from scheduler_monitor.silences import (
    active_mutes,
    silence_create,
    window_start_covering,
    window_validate,
)

# A Monday, 12:00 UTC.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
RULES = [{"name": "failing", "kind": "consecutive_failures", "count": 2, "severity": "critical"}]


def window(**fields):
    defaults = {"name": "w", "duration_minutes": 60, "timezone": "UTC"}
    return MaintenanceWindow(**{**defaults, **fields})


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_a_weekly_window_covers_its_hour_on_its_days_only():
    w = window(weekdays=[0, 2], start_time=time(11, 30))  # Mon, Wed 11:30-12:30
    assert window_start_covering(w, utc(2026, 6, 15, 11, 30)) == utc(2026, 6, 15, 11, 30)
    assert window_start_covering(w, utc(2026, 6, 15, 12, 29)) == utc(2026, 6, 15, 11, 30)
    assert window_start_covering(w, utc(2026, 6, 15, 12, 30)) is None
    assert window_start_covering(w, utc(2026, 6, 15, 11, 29)) is None
    assert window_start_covering(w, utc(2026, 6, 16, 12, 0)) is None  # Tuesday
    assert window_start_covering(w, utc(2026, 6, 17, 12, 0)) == utc(2026, 6, 17, 11, 30)


def test_a_weekly_window_across_midnight_covers_the_next_morning():
    w = window(weekdays=[6], start_time=time(23, 0), duration_minutes=180)  # Sun 23:00-02:00
    assert window_start_covering(w, utc(2026, 6, 15, 1, 59)) == utc(2026, 6, 14, 23, 0)
    assert window_start_covering(w, utc(2026, 6, 15, 2, 0)) is None


def test_a_weekly_window_follows_its_time_zone_across_daylight_saving():
    """02:00 Europe/Berlin is 01:00 UTC in winter and 00:00 UTC in summer."""
    w = window(weekdays=[5], start_time=time(2, 0), timezone="Europe/Berlin")  # Saturdays
    assert window_start_covering(w, utc(2026, 1, 10, 1, 30)) == utc(2026, 1, 10, 1, 0)
    assert window_start_covering(w, utc(2026, 1, 10, 0, 30)) is None
    assert window_start_covering(w, utc(2026, 7, 11, 0, 30)) == utc(2026, 7, 11, 0, 0)
    assert window_start_covering(w, utc(2026, 7, 11, 1, 30)) is None


def test_a_cron_window_covers_duration_minutes_after_each_start():
    w = window(cron="0 */6 * * *", duration_minutes=30, timezone="Asia/Shanghai")
    # 18:00 Shanghai is 10:00 UTC.
    assert window_start_covering(w, utc(2026, 6, 15, 10, 10)) == utc(2026, 6, 15, 10, 0)
    assert window_start_covering(w, utc(2026, 6, 15, 10, 30)) is None
    assert window_start_covering(w, utc(2026, 6, 15, 9, 59)) is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"cron": "0 2 * * *", "weekdays": [1], "start_time": time(1)}, "either a cron"),
        ({}, "either a cron"),
        ({"cron": "not cron"}, "Not a crontab"),
        ({"weekdays": [7], "start_time": time(1)}, "0 \\(Monday\\) to 6"),
        ({"weekdays": [1]}, "start time"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Base"}, "Unknown time zone"),
        ({"cron": "0 2 * * *", "scope": "job"}, "Name the job"),
    ],
)
def test_it_refuses_bad_windows(fields, message):
    with pytest.raises(ValidationError, match=message):
        window_validate(window(**fields))


@pytest.mark.django_db
def test_it_refuses_bad_silences():
    with pytest.raises(ValidationError, match="end after it starts"):
        silence_create(scope="all", starts_at=NOW, ends_at=NOW)
    with pytest.raises(ValidationError, match="Name the job"):
        silence_create(scope="job", ends_at=NOW + timedelta(hours=1))
    with pytest.raises(ValidationError, match="One of"):
        silence_create(scope="host", ends_at=NOW + timedelta(hours=1))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scope, value, muted",
    [
        ("all", "", {"a", "b", "down"}),
        ("job", "a", {"a"}),
        ("category", "Billing", {"b"}),
        ("rule", "down", {"down"}),
    ],
)
def test_a_silence_mutes_what_its_scope_names(make_job, scope, value, muted):
    jobs = {"a": make_job(job_id="a"), "b": make_job(job_id="b", category="Billing")}
    silence_create(scope=scope, value=value, starts_at=NOW, ends_at=NOW + timedelta(hours=1))
    mutes = active_mutes(now=NOW + timedelta(minutes=1))
    covered = {k for k, job in jobs.items() if mutes.covering(rule="failing", job=job)}
    if mutes.covering(rule="down", job=None):
        covered.add("down")
    assert covered == muted
    assert active_mutes(now=NOW + timedelta(hours=1)).covering(rule="down", job=None) is None


# --- silences and windows in evaluation --------------------------------------------------


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def firing(job):
    return [
        Alert(
            rule="failing",
            kind="consecutive_failures",
            severity="critical",
            message="the last 2 runs failed",
            job_id=job.job_id,
        )
    ]


def sent_kinds():
    return list(OutboxMessage.objects.order_by("pk").values_list("event__kind", flat=True))


@pytest.mark.django_db
def test_a_silence_holds_messages_back_and_one_goes_out_when_it_ends(make_job, clock):
    """Zero messages during the silence; one when it ends while the rule still fires."""
    NotificationChannel.objects.create(name="ops", kind="email", target="ops@example.com")
    job = make_job(job_id="a")
    silence_create(scope="job", value="a", starts_at=NOW, ends_at=NOW + timedelta(minutes=5))
    for _ in range(10):
        clock.shift(timedelta(seconds=15))
        incidents_evaluate(rules=RULES, alerts=firing(job))
    incident = Incident.objects.get()
    assert (incident.state, incident.silenced) == ("open", True)
    assert sent_kinds() == []
    clock.shift(timedelta(minutes=5))  # the silence has ended
    for _ in range(3):
        clock.shift(timedelta(seconds=15))
        incidents_evaluate(rules=RULES, alerts=firing(job))
    assert sent_kinds() == ["silence_ended"]
    assert Incident.objects.get().silenced is False


@pytest.mark.django_db
def test_an_incident_opened_and_resolved_inside_a_silence_sends_nothing(make_job, clock):
    NotificationChannel.objects.create(name="ops", kind="email", target="ops@example.com")
    job = make_job(job_id="a")
    silence_create(scope="all", starts_at=NOW, ends_at=NOW + timedelta(minutes=5))
    for alerts in (firing(job), [], [], []):
        clock.shift(timedelta(seconds=15))
        incidents_evaluate(rules=RULES, alerts=alerts)
    clock.shift(timedelta(minutes=10))
    incidents_evaluate(rules=RULES, alerts=[])
    assert Incident.objects.get().state == "resolved"
    assert sent_kinds() == []


@pytest.mark.django_db
def test_a_weekly_window_mutes_and_marks_its_runs(make_job, record_run, clock):
    """Mon 12:00-12:30 UTC: runs inside are marked, messages held until it ends."""
    NotificationChannel.objects.create(name="ops", kind="email", target="ops@example.com")
    job = make_job(job_id="a")
    other = make_job(job_id="b")
    MaintenanceWindow.objects.create(
        name="deploys",
        weekdays=[0],
        start_time=time(12, 0),
        duration_minutes=30,
        scope="job",
        value="a",
    )
    before = record_run(job, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=1))
    inside = record_run(job, status=RunStatus.FAILURE, started_at=NOW + timedelta(minutes=1))
    not_in_scope = record_run(other, started_at=NOW + timedelta(minutes=1))
    for _ in range(8):
        clock.shift(timedelta(minutes=2))
        incidents_evaluate(rules=RULES, alerts=firing(job))
    assert sent_kinds() == []
    marked = set(JobRun.objects.filter(in_maintenance=True).values_list("pk", flat=True))
    assert marked == {inside}
    assert before not in marked and not_in_scope not in marked
    clock.shift(timedelta(minutes=15))  # 12:31: the window is over
    incidents_evaluate(rules=RULES, alerts=firing(job))
    incidents_evaluate(rules=RULES, alerts=firing(job))
    assert sent_kinds() == ["silence_ended"]


@pytest.mark.django_db
def test_runs_inside_a_window_do_not_count_against_the_failure_ratio(make_job, record_run, clock):
    """Four failures inside a planned window and three good runs: the ratio rule stays quiet;
    the same failures outside the window make it fire."""
    from scheduler_monitor.alert_rules import firing_alerts

    rule = [{"name": "ratio", "kind": "failure_ratio", "severity": "warning"}]
    planned, unplanned = make_job(job_id="planned"), make_job(job_id="unplanned")
    MaintenanceWindow.objects.create(
        name="deploys", weekdays=[0], start_time=time(11, 30), duration_minutes=60
    )
    for job in (planned, unplanned):
        for minute in range(3):
            record_run(
                job, status=RunStatus.SUCCESS, started_at=NOW - timedelta(minutes=50 - minute)
            )
    for minute in range(4):
        record_run(
            planned, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=10 - minute)
        )
        record_run(
            unplanned, status=RunStatus.FAILURE, started_at=NOW - timedelta(minutes=40 - minute)
        )
    incidents_evaluate(rules=RULES, alerts=[])  # marks the runs of the active window
    assert JobRun.objects.filter(in_maintenance=True, job=planned).count() == 4
    assert {a.job_id for a in firing_alerts(rules=rule)} == {"unplanned"}
