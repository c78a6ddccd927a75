"""The resilient job store: a locked database delays jobs, it never ends the scheduler."""

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from django.conf import settings
from django.db import OperationalError
from django_apscheduler.models import DjangoJob

from scheduler_monitor import jobstores
from scheduler_monitor.jobstores import ResilientDjangoJobStore, make_resilient
from scheduler_monitor.models import JobRun, RunStatus
from tests.subprocesses import start_manage, wait_for


def test_a_store_call_that_keeps_failing_is_retried_then_given_up_without_raising(monkeypatch):
    calls, pauses = [], []
    monkeypatch.setattr(jobstores, "sleep", pauses.append)
    clock = iter(range(0, 1000))
    monkeypatch.setattr(jobstores, "monotonic", lambda: next(clock))

    class Locked(ResilientDjangoJobStore):
        retry_for_seconds = 10

        @jobstores.retrying()
        def update_job(self, job):
            calls.append(job)
            raise OperationalError("database is locked")

    assert Locked().update_job("job") is None
    assert len(calls) > 3 and pauses[:3] == [0.2, 0.4, 0.8]


def test_a_store_call_that_fails_once_succeeds_on_the_retry(monkeypatch):
    monkeypatch.setattr(jobstores, "sleep", lambda s: None)
    outcomes = [OperationalError("database is locked"), "ok"]

    class Once(ResilientDjangoJobStore):
        @jobstores.retrying()
        def remove_job(self, job_id):
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    assert Once().remove_job("x") == "ok"


@pytest.mark.django_db
def test_a_stored_job_it_cannot_read_is_skipped_not_deleted():
    DjangoJob.objects.create(id="elsewhere", job_state=b"not a pickle")
    store = ResilientDjangoJobStore()
    store._alias = "default"
    scheduler = BackgroundScheduler(timezone="UTC")
    store._scheduler = scheduler
    assert store.get_all_jobs() == []
    assert DjangoJob.objects.filter(id="elsewhere").exists()
    assert store.get_next_run_time() is None  # its (missing) time does not spin the loop


def test_it_makes_a_hosts_plain_django_job_store_resilient():
    from django_apscheduler.jobstores import DjangoJobStore

    store = DjangoJobStore()
    assert make_resilient(store) and isinstance(store, ResilientDjangoJobStore)


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
print("released", flush=True)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_scheduler_on_default_sqlite_settings_outlives_a_30s_write_lock(tmp_path):
    """Another process holds the write lock for 30 s: scheduler and web server go on."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from tests.live_app import free_port, http_get

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("SQLite's write lock")
    path = settings.DATABASES["default"]["NAME"]
    token = Token.objects.create(user=User.objects.create_user("ops", is_staff=True)).key
    default_sqlite = {"DJANGO_SETTINGS_MODULE": "tests.dropin.default_sqlite_settings"}
    scheduler = start_manage(
        "runapscheduler", log_path=tmp_path / "scheduler.log", **default_sqlite
    )
    port = free_port()
    server = start_manage(
        "runserver",
        "--noreload",
        f"127.0.0.1:{port}",
        log_path=tmp_path / "web.log",
        **default_sqlite,
    )
    url = f"http://127.0.0.1:{port}/api/v1/scheduler/jobs/fast_ok"
    bearer = {"Authorization": f"Bearer {token}"}

    def web_answers():
        try:
            return http_get(url, bearer, timeout=10)[0] == 200
        except OSError:
            return False

    holder = None
    try:
        wait_for(web_answers, timeout=60)
        wait_for(
            lambda: (
                JobRun.objects.filter(job__job_id="fast_ok", status=RunStatus.SUCCESS).count() >= 3
            ),
            timeout=60,
        )
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(path), "30"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "locked"
        locked_at = time.monotonic()
        web_during_lock = []
        while holder.poll() is None:
            assert scheduler.poll() is None, "the scheduler died while the database was locked"
            web_during_lock.append(web_answers())
            time.sleep(0.5)
        assert web_during_lock and all(web_during_lock)  # reads go on in WAL mode
        assert holder.returncode == 0 and time.monotonic() - locked_at >= 29
        released = db_now()
        # Every run after the lock: fast_ok (every second) has a success for each second.
        wait_for(
            lambda: (
                successes_between(released + timedelta(seconds=5), released + timedelta(seconds=15))
                == 10
            ),
            timeout=90,
        )
        assert scheduler.poll() is None and web_answers()
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        server.send_signal(signal.SIGTERM)
        scheduler.send_signal(signal.SIGTERM)
        code = scheduler.wait(60)
        server.wait(60)
    log = (tmp_path / "scheduler.log").read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert "database is locked" in log  # it was really locked out


def db_now():
    from django.utils import timezone

    return timezone.now()


def successes_between(start, end) -> int:
    times = JobRun.objects.filter(
        job__job_id="fast_ok",
        status=RunStatus.SUCCESS,
        scheduled_at__gte=start,
        scheduled_at__lt=end,
    ).values_list("scheduled_at", flat=True)
    return len(set(times))


def nothing():
    """A manual run's job (for the test below)."""


@pytest.mark.django_db(transaction=True)
def test_the_execution_log_ignores_jobs_of_other_stores_without_warning(caplog):
    """django-apscheduler logged every store's runs: 'no longer exists' per manual run."""
    import threading

    from apscheduler.events import EVENT_JOB_EXECUTED
    from apscheduler.jobstores.memory import MemoryJobStore
    from django_apscheduler.models import DjangoJobExecution

    done = threading.Event()
    scheduler = BackgroundScheduler(
        jobstores={"default": ResilientDjangoJobStore(), "manual": MemoryJobStore()},
        timezone="UTC",
    )
    scheduler.add_listener(lambda event: done.set(), EVENT_JOB_EXECUTED)
    scheduler.start()
    try:
        scheduler.add_job(nothing, "date", id="manual-1", jobstore="manual")
        assert done.wait(30)
    finally:
        scheduler.shutdown(wait=True)
    assert "no longer exists" not in caplog.text
    assert not DjangoJobExecution.objects.exists()
