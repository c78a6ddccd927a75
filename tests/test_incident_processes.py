"""Incidents end to end: a real scheduler subprocess, a failing job, a real HTTP receiver."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from scheduler_monitor.models import (
    DeliveryAttempt,
    Incident,
    JobRun,
    OutboxMessage,
    RunStatus,
    SchedulerLease,
)
from scheduler_monitor.notification_channels import verify_signature
from tests.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[1]
SECRET = "incident-test-secret"
EVALUATION_INTERVAL = 1  # tests/incident_settings.py
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Schedulers:
    """Start runapscheduler subprocesses with the incident settings; kill leftovers."""

    def __init__(self, tmp_path: Path, hook: str):
        self.tmp_path = tmp_path
        self.hook = hook
        self.fail_file = tmp_path / "fail"
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str, job_modules: str = "incident_jobs"):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "incident_settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "DATABASE_URL": database_url(),
            "INCIDENT_TEST_FAIL": str(self.fail_file),
            "INCIDENT_TEST_HOOK": self.hook,
            "INCIDENT_TEST_SECRET": SECRET,
            "INCIDENT_TEST_JOB_MODULES": job_modules,
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

    def logs(self) -> str:
        return "\n".join(Path(p.log_path).read_text()[-3000:] for p in self.processes)

    def cleanup(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
def receiver():
    with Receiver(statuses=[500, 500]) as started:
        yield started


@pytest.fixture
def schedulers(tmp_path, receiver):
    started = Schedulers(tmp_path, receiver.url)
    yield started
    started.cleanup()


def wait_for(condition, timeout: float, what: str, schedulers: Schedulers):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}\n{schedulers.logs()}"
            )
        time.sleep(0.05)


def holder_pid():
    lease = SchedulerLease.objects.select_related("holder").first()
    return lease.holder.pid if lease and lease.holder else None


def flip_runs(status, after=None):
    runs = JobRun.objects.filter(job__job_id="flip_job", status=status)
    if after is not None:
        runs = runs.filter(finished_at__gt=after)
    return runs.order_by("finished_at")


def assert_signed(message):
    assert verify_signature(
        SECRET, message.headers["X-Timestamp"], message.body, message.headers["X-Signature"]
    ), message.headers


def test_a_failing_job_fires_once_stays_quiet_and_resolves_once(schedulers, receiver):
    """Failing -> one signed "firing" (after 500, 500, 200: three attempts); still failing
    -> nothing more; recovered -> one "resolved"; still fine -> nothing more."""
    schedulers.fail_file.touch()
    active = schedulers.start("active")
    wait_for(lambda: holder_pid() == active.pid, 60, "the scheduler to be active", schedulers)
    second_failure = wait_for(
        lambda: flip_runs(RunStatus.FAILURE)[1:2].first(),
        60,
        "two failed runs",
        schedulers,
    )
    [firing] = wait_for(receiver.messages, EVALUATION_INTERVAL + 10 + 5, "the firing", schedulers)
    latency = time.time() - second_failure.finished_at.timestamp()
    assert_signed(firing)
    body = firing.json()
    assert (body["event"], body["status"], body["job"]["job_id"]) == (
        "opened",
        "firing",
        "flip_job",
    )
    assert body["incident"]["last_error"] == "RuntimeError: flip_job: upstream said no"
    assert body["job"]["url"] == "https://ops.example.com/scheduler-monitoring/jobs/flip_job"
    # The receiver answers before the sender records the try: wait for the record.
    message = wait_for(
        lambda: OutboxMessage.objects.filter(state="sent").first(), 30, "sent", schedulers
    )
    assert firing.headers["Idempotency-Key"] == message.idempotency_key
    attempts = list(DeliveryAttempt.objects.filter(message=message).order_by("number"))
    assert [(a.ok, a.status_code) for a in attempts] == [(False, 500), (False, 500), (True, 200)]

    # Keeps failing: evaluations go on (last_fired_at moves), no second message.
    incident = Incident.objects.get()
    wait_for(
        lambda: (
            Incident.objects.get().last_fired_at.timestamp()
            >= incident.opened_at.timestamp() + 5 * EVALUATION_INTERVAL
        ),
        60,
        "five more evaluations while failing",
        schedulers,
    )
    assert len(receiver.messages()) == 1
    assert Incident.objects.count() == 1

    schedulers.fail_file.unlink()
    [_, resolved] = wait_for(
        lambda: len(receiver.messages()) == 2 and receiver.messages(),
        60,
        "the resolved message",
        schedulers,
    )
    assert_signed(resolved)
    assert (resolved.json()["event"], resolved.json()["status"]) == ("resolved", "resolved")
    assert resolved.headers["Idempotency-Key"] != firing.headers["Idempotency-Key"]
    resolved_at = Incident.objects.get().resolved_at
    wait_for(
        lambda: flip_runs(RunStatus.SUCCESS, resolved_at).count() >= 4,
        60,
        "four good runs after resolving",
        schedulers,
    )
    assert len(receiver.messages()) == 2
    assert Incident.objects.get().state == "resolved"
    active.send_signal(signal.SIGTERM)
    assert active.wait(30) == 0
    print(f"notification latency, second failure to receiver (3 tries): {latency:.2f}s")


def test_a_change_committed_by_a_killed_scheduler_is_sent_once_by_the_standby(schedulers, receiver):
    """The active commits the incident and its message, then dies before sending (SIGKILL):
    the standby takes over and delivers it exactly once."""
    receiver.statuses.clear()
    schedulers.fail_file.touch()
    first = schedulers.start("first", job_modules="incident_jobs,incident_jobs_dead_sender")
    wait_for(lambda: holder_pid() == first.pid, 60, "the first scheduler to be active", schedulers)
    second = schedulers.start("second")
    wait_for(lambda: "standby" in Path(second.log_path).read_text(), 60, "the standby", schedulers)
    pending = wait_for(
        lambda: OutboxMessage.objects.filter(state="pending").first(),
        60,
        "the incident's message to be committed",
        schedulers,
    )
    time.sleep(2 * EVALUATION_INTERVAL)  # the dead sender would have sent it by now
    assert receiver.messages() == []
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    wait_for(lambda: holder_pid() == second.pid, 60, "the standby to take over", schedulers)
    [got] = wait_for(receiver.messages, 30, "the message from the standby", schedulers)
    assert_signed(got)
    assert got.headers["Idempotency-Key"] == pending.idempotency_key
    assert got.json()["event"] == "opened"
    # The new active keeps evaluating the same incident: nothing more is sent.
    sent_at = wait_for(
        lambda: OutboxMessage.objects.get().sent_at, 30, "the send to be recorded", schedulers
    )
    wait_for(
        lambda: (
            Incident.objects.get().last_fired_at.timestamp()
            >= sent_at.timestamp() + 3 * EVALUATION_INTERVAL
        ),
        60,
        "three more evaluations by the new active",
        schedulers,
    )
    assert len(receiver.messages()) == 1
    assert OutboxMessage.objects.get().state == "sent"
    assert Incident.objects.count() == 1
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0


def test_a_silence_holds_the_firing_back_and_one_message_goes_out_when_it_ends(
    schedulers, receiver
):
    """A job failing under a silence: an incident (silenced), zero messages; the silence
    ends while it still fails: exactly one message."""
    from datetime import timedelta

    from django.utils import timezone

    from scheduler_monitor.silences import silence_create

    receiver.statuses.clear()
    schedulers.fail_file.touch()
    silence = silence_create(
        scope="job", value="flip_job", ends_at=timezone.now() + timedelta(seconds=12)
    )
    active = schedulers.start("active")
    incident = wait_for(
        lambda: Incident.objects.filter(state="open", silenced=True).first(),
        60,
        "a silenced incident",
        schedulers,
    )
    assert incident.opened_at < silence.ends_at
    wait_for(lambda: timezone.now() > silence.ends_at, 30, "the silence to end", schedulers)
    [message] = wait_for(receiver.messages, 30, "the message after the silence", schedulers)
    assert message.json()["event"] == "silence_ended"
    assert message.received_at >= silence.ends_at.timestamp()
    evaluated = timezone.now()
    wait_for(
        lambda: Incident.objects.get().last_fired_at > evaluated + timedelta(seconds=3),
        60,
        "three more evaluations",
        schedulers,
    )
    assert len(receiver.messages()) == 1
    active.send_signal(signal.SIGTERM)
    assert active.wait(30) == 0
