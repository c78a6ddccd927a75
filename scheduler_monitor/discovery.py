"""Jobs found in the scheduler: every job it runs is monitored, declared or not.

A job the host added itself (``scheduler.add_job``, django-apscheduler's ``@register_job``,
a row already in ``DjangoJobStore``) gets a ``JobDefinition`` when it is first seen: at the
scheduler's start, or at its first run. Its name comes from the callable, its category is
"Uncategorised" and its schedule from its trigger; ``SCHEDULER_MONITOR["JOBS"]`` supplies
name, owner, category and description per job id, and an admin may edit the row. Such rows
are ``source=discovered``: the declaration sync never marks them removed.
"""

import logging
import threading
from datetime import UTC, timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.db import DatabaseError, InterfaceError, transaction
from django.utils import timezone

from scheduler_monitor import conf
from scheduler_monitor.models import JobDefinition, JobSource
from scheduler_monitor.registry import CRON_SAMPLE_FROM, CRON_SAMPLE_RUNS, format_seconds

logger = logging.getLogger(__name__)

DB_ERRORS = (DatabaseError, InterfaceError)
UNCATEGORISED = "Uncategorised"
# The callable our declared jobs are stored with (see scheduler.run_monitored_job).
MONITORED_JOB_REF = "scheduler_monitor.scheduler:run_monitored_job"
# Jobs the app itself schedules (e.g. the prune) and does not record as jobs.
INTERNAL_JOB_PREFIX = "scheduler-monitor-"


def func_ref_of(job) -> str:
    """``module:qualname`` of an APScheduler job's callable, as its job store keeps it."""
    ref = getattr(job, "func_ref", None)
    if isinstance(ref, str):
        return ref
    func = getattr(job, "func", None)
    return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"


def is_declared_job(job) -> bool:
    """Whether a stored job is one of ours (a ``@monitored_job`` the sync put there)."""
    return func_ref_of(job) == MONITORED_JOB_REF


def is_internal_job(job) -> bool:
    return str(getattr(job, "id", "")).startswith(INTERNAL_JOB_PREFIX)


def trigger_schedule(trigger) -> tuple[str, float | None]:
    """Describe a trigger for people and give its expected interval in seconds, if any."""
    if isinstance(trigger, IntervalTrigger):
        seconds = trigger.interval.total_seconds()
        return f"every {format_seconds(seconds)}", seconds
    if isinstance(trigger, CronTrigger):
        fields = " ".join(str(f) for f in trigger.fields)
        return f"cron {fields}", cron_interval(trigger)
    if isinstance(trigger, DateTrigger):
        return f"once at {trigger.run_date.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z", None
    return str(trigger)[:200], None


def cron_interval(trigger: CronTrigger) -> float | None:
    """The longest gap among a cron trigger's next few fire times (as for declared crons)."""
    fire = trigger.get_next_fire_time(None, CRON_SAMPLE_FROM)
    gaps = []
    for _ in range(CRON_SAMPLE_RUNS):
        if fire is None:
            break
        following = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if following is None:
            break
        gaps.append((following - fire).total_seconds())
        fire = following
    return max(gaps) if gaps else None


def callable_name(job) -> str:
    """A readable name from the job's callable: its function name, or the job's own name."""
    func = getattr(job, "func", None)
    name = getattr(func, "__qualname__", None) or getattr(job, "name", None) or str(job.id)
    return str(name)[:200]


def first_doc_line(job) -> str:
    doc = (getattr(getattr(job, "func", None), "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


class Discovery:
    """Remembers which job ids this process has already seen (one write per job and process)."""

    def __init__(self):
        self._seen: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()

    def note_job(self, job) -> None:
        """Create or refresh the row of a job found in the scheduler, unless it is ours."""
        if is_declared_job(job) or is_internal_job(job):
            return
        facts = self._facts(job)
        with self._lock:
            if self._seen.get(job.id) == facts:
                return
        note_discovered(job.id, facts)
        with self._lock:
            self._seen[job.id] = facts

    def note_jobs(self, jobs) -> None:
        for job in jobs:
            self.note_job(job)

    @staticmethod
    def _facts(job) -> tuple:
        schedule, interval = trigger_schedule(job.trigger)
        return (
            callable_name(job),
            first_doc_line(job),
            func_ref_of(job).replace(":", ".")[:300],
            schedule[:200],
            interval,
        )


def note_discovered(job_id: str, facts: tuple) -> JobDefinition:
    """Upsert a discovered job's row: facts from the scheduler, people's fields kept."""
    name, description, callable_path, schedule, interval = facts
    configured = conf.get("JOBS").get(job_id, {})
    with transaction.atomic():
        job = JobDefinition.objects.select_for_update().filter(job_id=job_id).first()
        if job is None:
            return JobDefinition.objects.create(
                job_id=job_id,
                source=JobSource.DISCOVERED,
                name=configured.get("name") or name,
                owner=configured.get("owner", ""),
                category=configured.get("category") or UNCATEGORISED,
                description=configured.get("description", description),
                callable_path=callable_path,
                schedule=schedule,
                expected_interval_seconds=interval,
            )
        if job.source == JobSource.DECLARED and not job.removed:
            # A declared job whose id the host also uses: the declaration describes it.
            return job
        values = {
            "source": JobSource.DISCOVERED,
            "removed": False,
            "callable_path": callable_path,
            "schedule": schedule,
            "expected_interval_seconds": interval,
        }
        if job.name == job_id:  # the id placeholder older versions wrote
            values["name"] = name
        if not job.category:
            values["category"] = UNCATEGORISED
        values.update({k: v for k, v in configured.items() if k in JOB_SETTING_KEYS})
        changed = {k: v for k, v in values.items() if getattr(job, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(job, key, value)
            job.updated_at = timezone.now()
            job.save(update_fields=[*changed, "updated_at"])
    return job


JOB_SETTING_KEYS = ("name", "owner", "category", "description")


def mark_missing_removed(present: set[str]) -> int:
    """Mark discovered jobs no longer in the scheduler as removed (rows and history kept).

    Called by the active scheduler with every job id its stores hold; a job seen again (at
    a later start or its next run) comes back.
    """
    return (
        JobDefinition.objects.filter(source=JobSource.DISCOVERED, removed=False)
        .exclude(job_id__in=present)
        .update(removed=True, updated_at=timezone.now())
    )


_discovery = Discovery()


def get_discovery() -> Discovery:
    return _discovery


# -- the jobs of a running (or about to run) scheduler -----------------------------------------


def stored_jobs(scheduler, *, skip: str) -> list:
    """Every job in the scheduler's stores but ``skip``, pending ones too (before start)."""
    jobs = [job for job, *_ in getattr(scheduler, "_pending_jobs", [])]
    for alias, store in list(scheduler._jobstores.items()):
        if alias == skip:
            continue
        try:
            jobs.extend(store.get_all_jobs())
        except DB_ERRORS as exc:
            logger.warning("Could not list the jobs of job store %s: %s", alias, exc)
    return jobs


def host_jobs(scheduler, *, skip: str) -> dict:
    """The jobs in the scheduler that we did not declare (the host's), by id."""
    return {job.id: job for job in stored_jobs(scheduler, skip=skip) if not is_declared_job(job)}


def host_job(scheduler, job_id: str, *, skip: str):
    """The host's job ``job_id`` in any of the scheduler's stores but ``skip``, or None."""
    for alias in scheduler._jobstores:
        if alias == skip:
            continue
        job = scheduler.get_job(job_id, jobstore=alias)
        if job is not None and not is_declared_job(job):
            return job
    return None


def describe(jobs, *, complete: bool = False) -> None:
    """Describe the host's jobs; ``complete``: they are all it has (others are gone)."""
    jobs = list(jobs)
    try:
        get_discovery().note_jobs(jobs)
        if complete:
            mark_missing_removed({job.id for job in jobs})
    except DB_ERRORS as exc:  # they are described again at their first run
        logger.warning("Could not describe the host's jobs: %s", exc)


def describe_by_id(scheduler, job_id: str, jobstore: str) -> None:
    """Describe a job known by its id only (a missed or skipped run's event)."""
    try:
        job = scheduler.get_job(job_id, jobstore=jobstore)
    except Exception:  # noqa: BLE001 - the run is recorded under its id regardless
        logger.warning("Could not look job %s up", job_id, exc_info=True)
        return
    if job is not None:
        describe([job])
