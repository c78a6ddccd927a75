"""Two real runapscheduler processes on one database: one runs jobs, the other stands by."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from scheduler_monitor import scheduler_instances
from scheduler_monitor.models import (
    JobRun,
    RunStatus,
    SchedulerEvent,
    SchedulerEventKind,
    SchedulerInstance,
    SchedulerLease,
)

ROOT = Path(__file__).resolve().parents[1]
# Must match tests/lease_scheduler_settings.py.
TTL = 0.5 * 6
TAKEOVER_BOUND = TTL + 0.5
# Process start-up and database latency on a busy machine, on top of the promise.
SLACK = 1.5

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    """The test database, as a URL the subprocesses' settings understand."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Schedulers:
    """Start and stop runapscheduler subprocesses; kill what is left at the end."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.release = tmp_path / "release"
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "lease_scheduler_settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "DATABASE_URL": database_url(),
            "LEASE_TEST_RELEASE": str(self.release),
            "LOG_LEVEL": "INFO",
        }
        log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runapscheduler"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.log_path = log.name
        self.processes.append(process)
        return process

    def log(self, process) -> str:
        return Path(process.log_path).read_text()

    def cleanup(self):
        self.release.touch()
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
def schedulers(tmp_path):
    started = Schedulers(tmp_path)
    yield started
    started.cleanup()


def wait_for(condition, timeout: float, what: str, processes=()):
    """Poll ``condition`` every 50 ms until it returns a truthy value or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(Path(p.log_path).read_text()[-3000:] for p in processes)
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")
        time.sleep(0.05)


def instance_of(process):
    return SchedulerInstance.objects.filter(pid=process.pid).order_by("-pk").first()


def holder_pid():
    lease = SchedulerLease.objects.select_related("holder").first()
    return lease.holder.pid if lease and lease.holder else None


def is_gap(row: JobRun) -> bool:
    return "missed_fire_times" in (row.measurements or {})


def assert_each_scheduled_run_once(job_id: str, *, gaps_recorded: bool = False) -> list[JobRun]:
    """No scheduled time was recorded twice (whatever its status) and each instance
    accounted for every second while active. ``gaps_recorded``: the seconds no instance
    ran were recorded as a gap, so across instances no second is unaccounted for.
    Returns the successful runs."""
    rows = list(
        JobRun.objects.filter(job__job_id=job_id)
        .exclude(status=RunStatus.RUNNING)
        .order_by("scheduled_at")
    )
    assert all(row.scheduled_at is not None for row in rows)
    times = Counter(row.scheduled_at for row in rows)
    assert [t for t, n in times.items() if n > 1] == []
    runs = [row for row in rows if not is_gap(row)]
    for pid in {row.pid for row in runs}:
        own = [row.scheduled_at for row in runs if row.pid == pid]
        gaps = {b - a for a, b in zip(own, own[1:], strict=False)}
        assert gaps <= {timedelta(seconds=1)}, (pid, gaps)
    if not gaps_recorded:
        return [row for row in runs if row.status == RunStatus.SUCCESS]
    # Every second: a run, or one of the scheduled times a gap record counts.
    covered = sorted(
        [row.scheduled_at for row in runs]
        + [
            row.scheduled_at + timedelta(seconds=k)
            for row in rows
            if is_gap(row)
            for k in range(int(row.measurements["missed_fire_times"]))
        ]
    )
    holes = [b - a for a, b in zip(covered, covered[1:], strict=False)]
    # Under 2 s: a new active instance starts its own one-second grid, not the old one's.
    assert max(holes, default=timedelta(0)) < timedelta(seconds=2), holes
    return [row for row in runs if row.status == RunStatus.SUCCESS]


def test_it_runs_jobs_once_and_the_standby_takes_over_after_sigkill(schedulers):
    """SIGKILL of the active: the standby holds the lease within the bound, the in-flight
    run is abandoned, and no scheduled time ever ran twice."""
    first = schedulers.start("first")
    wait_for(lambda: holder_pid() == first.pid, 30, "the first scheduler to be active", [first])
    second = schedulers.start("second")
    standby = wait_for(lambda: instance_of(second), 30, "the second scheduler to start", [second])
    wait_for(
        lambda: (
            JobRun.objects.filter(
                job__job_id="tick", status=RunStatus.SUCCESS, started_at__gt=standby.started_at
            ).count()
            >= 3
        ),
        30,
        "three ticks while the second stands by",
        [first, second],
    )
    in_flight = wait_for(
        lambda: JobRun.objects.filter(job__job_id="long_job", status=RunStatus.RUNNING).first(),
        30,
        "the long job to be running",
        [first],
    )
    assert in_flight.pid == first.pid
    assert not JobRun.objects.filter(pid=second.pid).exists()
    assert "standby" in schedulers.log(second)

    killed_at = time.monotonic()
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    wait_for(lambda: holder_pid() == second.pid, 30, "the standby to take over", [second])
    takeover = time.monotonic() - killed_at

    assert takeover <= TAKEOVER_BOUND + SLACK, takeover
    in_flight.refresh_from_db()
    wait_for(
        lambda: JobRun.objects.get(pk=in_flight.pk).status == RunStatus.ABANDONED,
        10,
        "the killed instance's run to be abandoned",
        [second],
    )
    wait_for(
        lambda: (
            JobRun.objects.filter(
                job__job_id="tick", status=RunStatus.SUCCESS, pid=second.pid
            ).count()
            >= 3
        ),
        30,
        "three ticks by the new active scheduler",
        [second],
    )
    schedulers.release.touch()
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0
    # The seconds between the killed instance's last tick and the takeover: one gap.
    gap = JobRun.objects.get(job__job_id="tick", status=RunStatus.MISSED)
    assert gap.pid == second.pid
    missed = int(gap.measurements["missed_fire_times"])
    assert TTL - 1 <= missed <= TAKEOVER_BOUND + SLACK + 2, missed
    event = SchedulerEvent.objects.get(kind=SchedulerEventKind.NO_SCHEDULER)
    assert event.missed_runs >= missed
    assert event.ended_at - event.started_at >= timedelta(seconds=TTL - 1)
    runs = assert_each_scheduled_run_once("tick", gaps_recorded=True)
    assert {run.pid for run in runs} == {first.pid, second.pid}
    takeover_at = SchedulerLease.objects.get().acquired_at
    assert all(run.started_at >= takeover_at for run in runs if run.pid == second.pid)
    assert instance_of(first).stopped_at is not None
    print(f"takeover after SIGKILL: {takeover:.2f}s (bound {TAKEOVER_BOUND}s)")


def test_it_hands_over_at_once_when_the_active_stops_cleanly(schedulers):
    """SIGTERM of the active releases the lease: the standby is active within one poll."""
    schedulers.release.touch()  # the long job returns at once here
    first = schedulers.start("first")
    wait_for(lambda: holder_pid() == first.pid, 30, "the first scheduler to be active", [first])
    second = schedulers.start("second")
    wait_for(lambda: instance_of(second), 30, "the second scheduler to start", [second])
    wait_for(
        lambda: JobRun.objects.filter(job__job_id="tick", pid=first.pid).count() >= 2,
        30,
        "two ticks by the first",
        [first],
    )
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    stopped_at = time.monotonic()
    wait_for(lambda: holder_pid() == second.pid, 30, "the standby to take over", [second])
    handover = time.monotonic() - stopped_at
    assert handover <= 0.5 + SLACK, handover
    wait_for(
        lambda: JobRun.objects.filter(job__job_id="tick", pid=second.pid).count() >= 2,
        30,
        "two ticks by the second",
        [second],
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0
    assert_each_scheduled_run_once("tick")
    assert not JobRun.objects.filter(status=RunStatus.ABANDONED).exists()
    assert scheduler_instances.live_instances().count() == 0
