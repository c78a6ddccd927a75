"""django-apscheduler's own execution log (``DjangoJobExecution``): off unless asked for.

Runs are recorded once, as ``JobRun`` rows by the recording path. django-apscheduler's job
store also registers listeners that write a ``DjangoJobExecution`` row per run (2-3 more
statements per run, 3.6x the cost of recording it); the store here keeps the job store and
leaves those listeners out unless ``SCHEDULER_MONITOR["DJANGO_APSCHEDULER_EXECUTIONS"]`` is
True, for hosts that read that table.
"""

from django_apscheduler.models import DjangoJobExecution

from scheduler_monitor import conf
from scheduler_monitor.jobstores import ResilientDjangoJobStore


def executions_enabled() -> bool:
    """Whether django-apscheduler's execution log is filled (and pruned)."""
    return conf.get("DJANGO_APSCHEDULER_EXECUTIONS")


class ExecutionLogOptional:
    """Job store mixin: register django-apscheduler's execution listeners only if enabled."""

    def register_event_listeners(self):
        if executions_enabled():
            super().register_event_listeners()


class MonitoredJobStore(ExecutionLogOptional, ResilientDjangoJobStore):
    """The scheduler's job store (jobstores.py) without per-run execution rows by default."""


def prune_executions() -> None:
    """Delete execution log rows older than EXECUTION_LOG_MAX_AGE."""
    DjangoJobExecution.objects.delete_old_job_executions(conf.get("EXECUTION_LOG_MAX_AGE"))
