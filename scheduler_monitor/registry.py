"""How a project declares a monitored job: id, name, owner, category, schedule, callable.

    from scheduler_monitor.registry import monitored_job

    @monitored_job("calculate_project_health", name="计算项目健康度",
                   owner="Backend Platform", category="Project Health", seconds=60)
    def calculate_project_health():
        ...

Declarations live in the modules listed in ``SCHEDULER_MONITOR["JOB_MODULES"]``.
"""

import importlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.core.exceptions import ImproperlyConfigured

from scheduler_monitor import conf

# A fixed start keeps a cron's expected interval the same at every sync.
CRON_SAMPLE_FROM = datetime(2025, 1, 6, tzinfo=UTC)
CRON_SAMPLE_RUNS = 16
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,191}$")
MAX_RETRIES = 10


@dataclass(frozen=True)
class JobSpec:
    """One declared job."""

    job_id: str
    name: str
    func: Callable[[], object]
    owner: str = ""
    category: str = ""
    description: str = ""
    interval_seconds: float | None = None
    cron: str | None = None
    max_instances: int = 1
    kwargs: dict = field(default_factory=dict)
    # Operations: how late a run may start before the job is overdue, and how long a run
    # may take before it is stuck (None: the defaults derived from interval and p95).
    grace_seconds: float | None = None
    max_runtime_seconds: float | None = None
    # Job control: a run time limit, retries of a failed run with exponential backoff,
    # where the run executes ("thread" or "process") and the arguments a manual run may pass.
    timeout_seconds: float | None = None
    retries: int = 0
    retry_backoff_seconds: float = 10.0
    isolation: str = "thread"
    params: dict = field(default_factory=dict)

    @property
    def callable_path(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"

    @property
    def schedule(self) -> str:
        """Describe the schedule for people: ``every 30s`` or ``cron */5 * * * *``."""
        return describe_schedule(cron=self.cron, seconds=self.interval_seconds)

    @property
    def expected_interval_seconds(self) -> float:
        """Seconds between two runs; for a cron, the longest gap among the next few runs."""
        return expected_interval_seconds(cron=self.cron, seconds=self.interval_seconds)

    def build_trigger(self, timezone=None) -> BaseTrigger:
        """Return the APScheduler trigger of this schedule."""
        return build_trigger(cron=self.cron, seconds=self.interval_seconds, timezone=timezone)

    @property
    def params_schema(self) -> dict:
        """The declared arguments as stored: ``{"days": "int"}``, or the JSON schema itself."""
        if is_json_schema(self.params):
            return dict(self.params)
        return {name: PARAM_TYPE_NAMES[kind] for name, kind in self.params.items()}


PARAM_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool"}


def is_json_schema(params: dict) -> bool:
    """``params`` given as a JSON schema of an object (not ``{name: type}``)."""
    return isinstance(params, dict) and params.get("type") == "object"


ISOLATIONS = ("thread", "process")


def describe_schedule(*, cron: str | None, seconds: float | None) -> str:
    """Describe a schedule for people: ``every 30s`` or ``cron */5 * * * *``."""
    if cron:
        return f"cron {cron}"
    return f"every {format_seconds(seconds)}"


def build_trigger(*, cron: str | None, seconds: float | None, timezone=None) -> BaseTrigger:
    """The APScheduler trigger of a crontab expression or an interval in seconds."""
    if cron:
        return CronTrigger.from_crontab(cron, timezone=timezone)
    return IntervalTrigger(seconds=seconds, timezone=timezone)


def expected_interval_seconds(*, cron: str | None, seconds: float | None) -> float:
    """Seconds between two runs; for a cron, the longest gap among the next few runs."""
    if not cron:
        return float(seconds)
    trigger = CronTrigger.from_crontab(cron, timezone=UTC)
    fire = trigger.get_next_fire_time(None, CRON_SAMPLE_FROM)
    gaps = []
    for _ in range(CRON_SAMPLE_RUNS):
        following = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        gaps.append((following - fire).total_seconds())
        fire = following
    return max(gaps)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class JobRegistry:
    """The declared jobs of this process, by job id."""

    def __init__(self):
        self._specs: dict[str, JobSpec] = {}
        self._lock = threading.Lock()

    def register(self, spec: JobSpec) -> JobSpec:
        validate_spec(spec)
        with self._lock:
            existing = self._specs.get(spec.job_id)
            if existing is not None and existing.callable_path != spec.callable_path:
                raise ImproperlyConfigured(
                    f"Job id {spec.job_id!r} is declared twice "
                    f"({existing.callable_path} and {spec.callable_path})"
                )
            self._specs[spec.job_id] = spec
        return spec

    def unregister(self, job_id: str) -> None:
        with self._lock:
            self._specs.pop(job_id, None)

    def get(self, job_id: str) -> JobSpec | None:
        with self._lock:
            return self._specs.get(job_id)

    def all(self) -> list[JobSpec]:
        with self._lock:
            return sorted(self._specs.values(), key=lambda s: s.job_id)

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()


def validate_spec(spec: JobSpec) -> None:
    """Refuse a declaration that the scheduler could not run, naming the job."""
    if not JOB_ID_PATTERN.match(spec.job_id or ""):
        raise ImproperlyConfigured(
            f"Job id {spec.job_id!r} must be 1-191 letters, digits or _ . : -"
        )
    if not callable(spec.func):
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: func is not callable")
    if bool(spec.cron) == (spec.interval_seconds is not None):
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: give exactly one of cron or seconds")
    if spec.interval_seconds is not None and not spec.interval_seconds > 0:
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: seconds must be positive")
    if spec.cron:
        try:
            CronTrigger.from_crontab(spec.cron)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"Job {spec.job_id!r}: bad cron {spec.cron!r}: {exc}"
            ) from exc
    if spec.max_instances < 1:
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: max_instances must be at least 1")
    for name in ("grace_seconds", "max_runtime_seconds"):
        value = getattr(spec, name)
        if value is not None and not (
            isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        ):
            raise ImproperlyConfigured(f"Job {spec.job_id!r}: {name} must be positive seconds")
    timeout = spec.timeout_seconds
    if timeout is not None and not (
        isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
    ):
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: timeout_seconds must be positive")
    if not (isinstance(spec.retries, int) and not isinstance(spec.retries, bool)) or not (
        0 <= spec.retries <= MAX_RETRIES
    ):
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: retries must be 0-{MAX_RETRIES}")
    backoff = spec.retry_backoff_seconds
    if not (isinstance(backoff, int | float) and not isinstance(backoff, bool) and backoff >= 0):
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: retry_backoff_seconds must be >= 0")
    if spec.isolation not in ISOLATIONS:
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: isolation must be one of {ISOLATIONS}")
    if not isinstance(spec.params, dict):
        raise ImproperlyConfigured(f"Job {spec.job_id!r}: params must be a dict of name: type")
    if is_json_schema(spec.params):
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(spec.params)
        except jsonschema.SchemaError as exc:
            raise ImproperlyConfigured(
                f"Job {spec.job_id!r}: params is not a valid JSON schema: {exc.message}"
            ) from exc
        return
    for name, kind in spec.params.items():
        if not (isinstance(name, str) and name.isidentifier()) or kind not in PARAM_TYPE_NAMES:
            raise ImproperlyConfigured(
                f"Job {spec.job_id!r}: param {name!r} needs a type among int, float, str, bool"
            )


registry = JobRegistry()


def first_doc_line(func) -> str:
    lines = (func.__doc__ or "").strip().splitlines()
    return lines[0] if lines else ""


def monitored_job(
    job_id: str,
    *,
    name: str | None = None,
    owner: str = "",
    category: str = "",
    description: str = "",
    seconds: float | None = None,
    cron: str | None = None,
    max_instances: int = 1,
    grace_seconds: float | None = None,
    max_runtime_seconds: float | None = None,
    timeout_seconds: float | None = None,
    retries: int = 0,
    retry_backoff_seconds: float = 10.0,
    isolation: str = "thread",
    params: dict | None = None,
    **kwargs,
):
    """Declare the decorated function as a monitored job and return it unchanged."""

    def decorator(func):
        registry.register(
            JobSpec(
                job_id=job_id,
                name=name or job_id,
                func=func,
                owner=owner,
                category=category,
                description=description or first_doc_line(func),
                interval_seconds=seconds,
                cron=cron,
                max_instances=max_instances,
                kwargs=kwargs,
                grace_seconds=grace_seconds,
                max_runtime_seconds=max_runtime_seconds,
                timeout_seconds=timeout_seconds,
                retries=retries,
                retry_backoff_seconds=retry_backoff_seconds,
                isolation=isolation,
                params=dict(params or {}),
            )
        )
        return func

    return decorator


def load_declarations() -> list[JobSpec]:
    """Import every module in ``JOB_MODULES`` and return the declared jobs."""
    for module in conf.get("JOB_MODULES"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"SCHEDULER_MONITOR['JOB_MODULES'] lists {module!r}, which cannot be imported: "
                f"{exc}"
            ) from exc
    return registry.all()
