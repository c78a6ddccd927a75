"""Declaring jobs: validated up front, with a readable schedule and a real trigger."""

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.core.exceptions import ImproperlyConfigured

from scheduler_monitor.registry import JobRegistry, JobSpec, monitored_job, registry


def work():
    """Do the work.

    More text that is not the description.
    """


def other():
    pass


def test_a_decorated_function_is_declared_and_returned_unchanged():
    decorated = monitored_job("decl_test", name="测试", owner="O", category="C", seconds=90)(work)
    assert decorated is work
    spec = registry.get("decl_test")
    assert (spec.name, spec.owner, spec.category) == ("测试", "O", "C")
    assert spec.description == "Do the work."
    assert spec.callable_path == "tests.test_registry.work"
    assert spec.schedule == "every 90s"


@pytest.mark.parametrize(
    ("kwargs", "schedule", "trigger_type"),
    [
        ({"interval_seconds": 30}, "every 30s", IntervalTrigger),
        ({"interval_seconds": 300}, "every 5min", IntervalTrigger),
        ({"interval_seconds": 7200}, "every 2h", IntervalTrigger),
        ({"cron": "*/5 * * * *"}, "cron */5 * * * *", CronTrigger),
    ],
)
def test_the_schedule_reads_well_and_builds_its_trigger(kwargs, schedule, trigger_type):
    spec = JobSpec(job_id="s", name="s", func=work, **kwargs)
    assert spec.schedule == schedule
    assert isinstance(spec.build_trigger(), trigger_type)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job_id": "bad id!", "interval_seconds": 1}, "must be 1-191 letters"),
        ({"job_id": "", "interval_seconds": 1}, "must be 1-191 letters"),
        ({"job_id": "x"}, "exactly one of cron or seconds"),
        ({"job_id": "x", "interval_seconds": 1, "cron": "* * * * *"}, "exactly one"),
        ({"job_id": "x", "interval_seconds": 0}, "seconds must be positive"),
        ({"job_id": "x", "cron": "every tuesday"}, "bad cron"),
        ({"job_id": "x", "interval_seconds": 5, "max_instances": 0}, "max_instances"),
    ],
)
def test_a_bad_declaration_is_refused_naming_the_problem(kwargs, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        JobRegistry().register(JobSpec(name="n", func=work, **kwargs))


def test_the_same_id_for_two_callables_is_refused():
    reg = JobRegistry()
    reg.register(JobSpec(job_id="dup", name="a", func=work, interval_seconds=1))
    reg.register(JobSpec(job_id="dup", name="a2", func=work, interval_seconds=2))  # re-import
    with pytest.raises(ImproperlyConfigured, match="declared twice"):
        reg.register(JobSpec(job_id="dup", name="b", func=other, interval_seconds=1))


def test_an_unimportable_job_module_names_the_module(settings):
    from scheduler_monitor.registry import load_declarations

    settings.SCHEDULER_MONITOR = {"JOB_MODULES": ["no.such.module"]}
    with pytest.raises(ImproperlyConfigured, match="'no.such.module'"):
        load_declarations()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"retries": -1}, "retries"),
        ({"retries": 11}, "retries"),
        ({"retry_backoff_seconds": -1}, "retry_backoff_seconds"),
        ({"isolation": "fiber"}, "isolation"),
        ({"params": {"days": list}}, "param 'days'"),
        ({"params": {"not valid": int}}, "param 'not valid'"),
    ],
)
def test_it_refuses_bad_job_control_options(options, message):
    """Timeout, retries, isolation and params are checked at declaration, naming the job."""
    from scheduler_monitor.registry import JobRegistry, JobSpec

    with pytest.raises(ImproperlyConfigured, match=message):
        JobRegistry().register(
            JobSpec(job_id="j", name="j", func=len, interval_seconds=60, **options)
        )
