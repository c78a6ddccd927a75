"""A real ``runapscheduler`` subprocess on the test database, and API clients."""

import signal
import subprocess

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler_monitor.models import JobRun
from tests.subprocesses import start_manage, wait_for

SETTINGS = "tests.job_control.control_settings"


class Scheduler:
    """Start, stop and restart one scheduler subprocess."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> subprocess.Popen:
        self.starts += 1
        log = self.tmp_path / f"scheduler-{self.starts}.log"
        self.process = start_manage(
            "runapscheduler",
            log_path=log,
            DJANGO_SETTINGS_MODULE=SETTINGS,
            JOB_CONTROL_DIR=str(self.tmp_path),
            LOG_LEVEL="INFO",
        )
        before = JobRun.objects.filter(job__job_id="jc_tick").count()
        wait_for(
            lambda: self._alive() and JobRun.objects.filter(job__job_id="jc_tick").count() > before,
            timeout=60,
        )
        return self.process

    def _alive(self) -> bool:
        assert self.process.poll() is None, self.log()
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("scheduler-*.log")))


@pytest.fixture
def scheduler(transactional_db, tmp_path):
    running = Scheduler(tmp_path)
    try:
        yield running
    finally:
        running.stop()
        print(running.log())  # shown when the test failed


@pytest.fixture
def api(transactional_db):
    """A token client allowed to view, trigger and change jobs."""
    user = User.objects.create_user("ops")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="scheduler_monitor",
            codename__in=["view_jobdefinition", "trigger_job", "change_jobdefinition"],
        )
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client
