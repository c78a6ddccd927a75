"""Jobs found in the scheduler get a described row once, and people's edits are kept."""

from datetime import UTC, datetime

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.core.exceptions import ImproperlyConfigured

from scheduler_monitor.discovery import (
    Discovery,
    is_declared_job,
    is_internal_job,
    trigger_schedule,
)
from scheduler_monitor.models import JobDefinition, JobSource
from scheduler_monitor.scheduler import PRUNE_JOB_ID, run_monitored_job
from tests.dropin import host_jobs


def host_job(job_id="report", func=host_jobs.cleanup_sessions, trigger=None, args=()):
    return Job(
        BackgroundScheduler(timezone=UTC),
        id=job_id,
        func=func,
        trigger=trigger or IntervalTrigger(minutes=15, timezone=UTC),
        executor="default",
        args=args,
        kwargs={},
        name=None,
        misfire_grace_time=30,
        coalesce=True,
        max_instances=1,
        next_run_time=None,
    )


@pytest.mark.parametrize(
    "trigger, schedule, interval",
    [
        (IntervalTrigger(minutes=15, timezone=UTC), "every 15min", 900.0),
        (CronTrigger.from_crontab("0 */6 * * *", timezone=UTC), "cron", 6 * 3600.0),
        (DateTrigger(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)), "once at 2030-01-02", None),
    ],
)
def test_it_describes_each_kind_of_trigger(trigger, schedule, interval):
    text, seconds = trigger_schedule(trigger)
    assert text.startswith(schedule) and seconds == interval


def test_it_tells_our_jobs_from_the_hosts():
    assert is_declared_job(host_job(func=run_monitored_job, args=("report",)))
    assert not is_declared_job(host_job())
    assert is_internal_job(host_job(PRUNE_JOB_ID)) and not is_internal_job(host_job())


@pytest.mark.django_db
def test_a_new_job_gets_defaults_and_the_settings_override_them(settings):
    settings.SCHEDULER_MONITOR = {"JOBS": {"billing": {"owner": "Billing", "category": "Money"}}}
    Discovery().note_jobs([host_job("report"), host_job("billing")])
    report = JobDefinition.objects.get(job_id="report")
    assert (report.source, report.name, report.owner, report.category) == (
        JobSource.DISCOVERED,
        "cleanup_sessions",
        "",
        "Uncategorised",
    )
    assert (report.schedule, report.expected_interval_seconds) == ("every 15min", 900.0)
    billing = JobDefinition.objects.get(job_id="billing")
    assert (billing.owner, billing.category) == ("Billing", "Money")


@pytest.mark.django_db
def test_an_admins_edits_survive_later_sightings_but_the_schedule_follows_the_trigger():
    Discovery().note_job(host_job("report"))
    JobDefinition.objects.filter(job_id="report").update(name="Weekly report", owner="Ops")
    Discovery().note_job(host_job("report", trigger=IntervalTrigger(hours=1, timezone=UTC)))
    job = JobDefinition.objects.get(job_id="report")
    assert (job.name, job.owner, job.schedule) == ("Weekly report", "Ops", "every 1h")


@pytest.mark.django_db
def test_a_row_an_older_version_marked_removed_comes_back_as_discovered(make_job):
    make_job("report", name="report", category="", removed=True)
    Discovery().note_job(host_job("report"))
    job = JobDefinition.objects.get(job_id="report")
    assert (job.removed, job.source, job.name, job.category) == (
        False,
        JobSource.DISCOVERED,
        "cleanup_sessions",
        "Uncategorised",
    )


@pytest.mark.django_db
def test_a_declared_job_keeps_its_declaration_when_the_host_uses_its_id(make_job):
    make_job("report", name="Declared report", category="Reports")
    Discovery().note_job(host_job("report"))
    job = JobDefinition.objects.get(job_id="report")
    assert (job.source, job.name, job.category) == (
        JobSource.DECLARED,
        "Declared report",
        "Reports",
    )


@pytest.mark.django_db
def test_each_job_is_written_once_per_process_until_its_facts_change(django_assert_num_queries):
    discovery = Discovery()
    discovery.note_job(host_job("report"))
    with django_assert_num_queries(0):
        discovery.note_job(host_job("report"))


@pytest.mark.parametrize(
    "jobs, message",
    [
        (["x"], "must be a dict"),
        ({"x": {"team": "A"}}, "must map to a dict with keys among"),
        ({"x": {"name": ""}}, "name must be a string"),
        ({"x": {"owner": 3}}, "owner must be a string"),
    ],
)
def test_a_bad_jobs_setting_is_refused_naming_it(settings, jobs, message):
    with pytest.raises(ImproperlyConfigured, match=r"\['JOBS'\] .*" + message):
        settings.SCHEDULER_MONITOR = {"JOBS": jobs}
