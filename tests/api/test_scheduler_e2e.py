"""Trigger, pause and resume against ``manage.py runapscheduler`` running as a subprocess."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django_apscheduler.models import DjangoJob

from scheduler_monitor.models import JobRun, RunTrigger
from tests.api.helpers import CHANGE, TRIGGER, VIEW, data_of

ROOT = Path(__file__).resolve().parents[2]
P = "/api/v1/scheduler"


def database_url() -> str:
    """The test database as a DATABASE_URL the subprocess's settings understand."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.1):
    """Poll until predicate() is truthy; fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def scheduler_process(transactional_db, tmp_path):
    """Start runapscheduler on the test database; stop it with SIGTERM afterwards."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.api.e2e_settings",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "INFO",
    }
    log = (tmp_path / "scheduler.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runapscheduler"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.seek(0)
        print(log.read())  # shown by pytest when the test failed
        log.close()


def wait_until_running(client, process):
    def running():
        assert process.poll() is None, "the scheduler process exited"
        data = data_of(client.get(f"{P}/status"))
        return data["running"] and data["registered_jobs"] == 2

    wait_for(running, timeout=60, what="the scheduler to report running with 2 jobs")


@pytest.mark.slow
def test_it_runs_a_triggered_job_and_links_the_run(scheduler_process, token_client):
    """A trigger becomes a manual run within seconds; the request shows done and the run."""
    client = token_client(VIEW, TRIGGER)
    wait_until_running(client, scheduler_process)
    accepted = data_of(client.post(f"{P}/jobs/e2e_manual/trigger"), 202, "accepted")
    assert accepted["scheduler_running"] is True
    url = accepted["url"]

    def done():
        data = data_of(client.get(url))
        return data if data["status"] in ("done", "failed") else None

    trigger = wait_for(done, timeout=15, what="the trigger request to finish")
    assert trigger["status"] == "done"
    assert trigger["picked_at"] and trigger["finished_at"]
    run = JobRun.objects.get(pk=trigger["run"]["id"])
    assert run.job.job_id == "e2e_manual"
    assert (run.status, run.trigger) == ("success", RunTrigger.MANUAL)
    assert trigger["run"]["trigger"] == "manual" and trigger["run"]["duration_ms"] >= 50
    history = data_of(client.get(f"{P}/jobs/e2e_manual/runs", {"trigger": "manual"}))
    assert [r["id"] for r in history["runs"]] == [run.pk]


@pytest.mark.slow
def test_it_pauses_and_resumes_the_running_scheduler(scheduler_process, token_client):
    """After pause the scheduler stops running the job; after resume it runs it again."""
    client = token_client(VIEW, CHANGE)
    wait_until_running(client, scheduler_process)
    ticks = JobRun.objects.filter(job__job_id="e2e_tick", trigger=RunTrigger.SCHEDULED)
    wait_for(lambda: ticks.count() >= 2, timeout=20, what="two scheduled ticks")

    assert data_of(client.post(f"{P}/jobs/e2e_tick/pause"))["paused"] is True
    # A run already handed to the executor may still land; after that nothing new for 3 s.
    time.sleep(0.5)
    after_pause = ticks.count()
    stable_until = time.monotonic() + 3
    while time.monotonic() < stable_until:
        assert ticks.count() == after_pause, "the paused job ran again"
        assert DjangoJob.objects.get(id="e2e_tick").next_run_time is None
        time.sleep(0.2)

    data = data_of(client.post(f"{P}/jobs/e2e_tick/resume"))
    assert data["paused"] is False and data["next_run_time"]
    wait_for(lambda: ticks.count() > after_pause, timeout=10, what="a scheduled tick after resume")
