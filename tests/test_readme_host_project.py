"""README's "Add it to your project", followed literally in a fresh startproject.

The snippets are read from README.md (so the README and this test cannot drift), written
into a project made by ``django-admin startproject mysite`` + ``startapp tasks``, and the
project is run for real: ``migrate``, ``check``, its own instrumented ``runapscheduler``
and ``runserver``. The only changes to the snippets: job intervals of seconds instead of
minutes, and on PostgreSQL a DATABASES setting (startproject's is SQLite).

Three jobs: a ``@monitored_job`` one, one the project adds with ``scheduler.add_job``, and
one already sitting in ``DjangoJobStore`` from an earlier deployment.
"""

import base64
import http.cookiejar
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.live_app import free_port, wait_until

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Add it to your project"
LEGACY_JOB = "nightly_report"
LEGACY_MODULE = '''"""Code of an earlier deployment whose job is still in the job store."""


def nightly_report(recipients, fmt="pdf"):
    """Mail the nightly report."""
    assert recipients == ["ops@example.com"] and fmt == "csv"
'''
STORE_LEGACY_JOB = f"""
from apscheduler.schedulers.background import BackgroundScheduler
from django_apscheduler.jobstores import DjangoJobStore
from tasks.legacy import nightly_report

earlier = BackgroundScheduler(jobstores={{"default": DjangoJobStore()}}, timezone="UTC")
job = earlier.add_job(nightly_report, "interval", seconds=1, id={LEGACY_JOB!r},
                      args=[["ops@example.com"]], kwargs={{"fmt": "csv"}}, misfire_grace_time=60)
earlier._real_add_job(job, "default", False)  # what start() does, without running it
"""
DUMP = """
import base64, json
from django_apscheduler.models import DjangoJob
from scheduler_monitor.models import JobDefinition, JobRun
print(json.dumps({
    "store": {j.id: base64.b64encode(bytes(j.job_state)).decode() for j in DjangoJob.objects.all()},
    "jobs": {j.job_id: [j.source, j.name, j.owner, j.category, j.success_count, j.failure_count]
             for j in JobDefinition.objects.all()},
    "runs": [[r.job.job_id, r.status, r.duration_ms] for r in JobRun.objects.select_related("job")],
}))
"""


def readme_snippets() -> list[tuple[str, str, bool]]:
    """(path, code, append) of every python snippet of the README's setup section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTION) : text.index("\n## ", text.index(SECTION) + 1)]
    snippets = []
    for code in re.findall(r"```python\n(.*?)```", section, re.S):
        first, _, rest = code.partition("\n")
        match = re.fullmatch(r"# (\S+)( \(append\))?", first)
        assert match, f"a README snippet does not start with '# <path>': {first!r}"
        snippets.append((match.group(1), rest, bool(match.group(2))))
    return snippets


def install_app(site: Path) -> None:
    """Lay the app out as its wheel does (pyproject's package-dir mapping), outside the repo."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shutil.copytree(
        ROOT / "scheduler_monitor",
        site / "scheduler_monitor",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for package, source in config["package-dir"].items():
        target = site / Path(*package.split("."))
        shutil.copytree(ROOT / source, target, dirs_exist_ok=True)


def faster(path: str, code: str) -> str:
    """Seconds instead of minutes, so runs happen while the test watches."""
    if path.startswith("tasks/"):
        code = re.sub(r"seconds=\d+", "seconds=1", code)
        code = code.replace("hours=1", "seconds=1")
    return code


class HostProject:
    def __init__(self, root: Path, site: Path, database: dict | None):
        self.root = root
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
            "PYTHONPATH": str(site),
            "PYTHONUNBUFFERED": "1",
        }
        self.database = database

    def manage(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def start(self, *args: str, log: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            stdout=open(self.root / log, "wb"),  # noqa: SIM115 - the process owns it
            stderr=subprocess.STDOUT,
        )

    def dump(self) -> dict:
        return json.loads(self.manage("shell", "-c", DUMP).strip().splitlines()[-1])


@pytest.fixture
def postgres_database():
    """A database of its own on the test run's PostgreSQL server (None on SQLite)."""
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        yield None
        return
    import psycopg

    name = f"host_{uuid.uuid4().hex[:10]}"
    params = {
        "host": db.get("HOST") or "localhost",
        "port": db.get("PORT") or 5432,
        "user": db.get("USER"),
        "password": db.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield {**params, "dbname": name}
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def host_project(tmp_path, postgres_database) -> HostProject:
    site = tmp_path / "site"
    install_app(site)
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite"], cwd=tmp_path, check=True
    )
    root = tmp_path / "mysite"
    project = HostProject(root, site, postgres_database)
    project.manage("startapp", "tasks")
    (root / "tasks" / "management" / "commands").mkdir(parents=True)
    for package in ("management", "management/commands"):
        (root / "tasks" / package / "__init__.py").write_text("")
    for path, code, append in readme_snippets():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        code = faster(path, code)
        if append:
            target.write_text(target.read_text() + "\n" + code)
        else:
            target.write_text(code)
    (root / "tasks" / "legacy.py").write_text(LEGACY_MODULE)
    if postgres_database is not None:
        db = postgres_database
        with open(root / "mysite" / "settings.py", "a") as out:
            out.write(
                "\nDATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', "
                f"'NAME': {db['dbname']!r}, 'USER': {db['user']!r}, "
                f"'PASSWORD': {db['password'] or ''!r}, 'HOST': {db['host']!r}, "
                f"'PORT': {str(db['port'])!r}}}}}\n"
            )
    return project


class Client:
    """HTTP against the host's server: token header or a logged-in admin session."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def login(self, username: str, password: str) -> None:
        self.get("/admin/login/")
        csrf = next(c.value for c in self.cookies if c.name == "csrftoken")
        data = urllib.parse.urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": csrf,
                "next": "/admin/",
            }
        ).encode()
        request = urllib.request.Request(
            self.base + "/admin/login/", data=data, headers={"Referer": self.base}
        )
        with self.opener.open(request, timeout=30) as response:
            assert response.url.endswith("/admin/"), "admin login failed"


@pytest.mark.django_db(transaction=True)
def test_a_fresh_project_set_up_from_the_readme_records_every_job(host_project):
    project = host_project
    project.manage("migrate", "--noinput")
    checked = project.manage("check")
    assert "System check identified no issues" in checked, checked
    env_admin = {**project.env, "DJANGO_SUPERUSER_PASSWORD": "admin-pw-123"}
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "admin",
         "--email", "admin@example.com"],
        cwd=project.root, env=env_admin, check=True, capture_output=True,
    )  # fmt: skip
    token = project.manage("drf_create_token", "admin").split()[2]
    project.manage("shell", "-c", STORE_LEGACY_JOB)
    stored_before = project.dump()["store"][LEGACY_JOB]

    port = free_port()
    scheduler = project.start("runapscheduler", log="scheduler.log")
    server = project.start("runserver", "--noreload", f"127.0.0.1:{port}", log="server.log")
    client = Client(f"http://127.0.0.1:{port}")
    bearer = {"Authorization": f"Bearer {token}"}
    try:
        watched = {"calculate_project_health", "cleanup_sessions", LEGACY_JOB}

        def all_ran_twice():
            status, body = client.get("/api/v1/scheduler/jobs", bearer)
            if status != 200:
                return False
            rows = {j["job_id"]: j for j in json.loads(body)["data"]["jobs"]}
            return all(rows.get(j, {}).get("success_count", 0) >= 2 for j in watched) and rows

        wait_until(all_ran_twice, timeout=120, what="two successful runs of each job")
        for path in (
            "/api/v1/scheduler/metrics",
            "/api/v1/scheduler/status",
            "/api/v1/scheduler/metrics/prometheus",
            "/metrics",
            "/api/v1/schema/",
        ):
            status, body = client.get(path, bearer)
            assert status == 200, (path, body[:500])
        assert client.get("/metrics")[0] == 401  # METRICS_REQUIRE_TOKEN from the README
        _, prometheus = client.get("/metrics", bearer)
        assert re.search(r'scheduler_job_success_total\{[^}]*job_id="cleanup_sessions"', prometheus)
        client.login("admin", "admin-pw-123")
        status, page = client.get("/scheduler-monitoring?refresh=0")
        assert status == 200 and "cleanup_sessions" in page
        status, page = client.get("/scheduler-monitoring?refresh=0", {"Accept-Language": "zh-hans"})
        assert status == 200 and 'lang="zh-hans"' in page and "成功率" in page
        status, index = client.get("/admin/")
        assert status == 200 and 'href="/scheduler-monitoring"' in index
    finally:
        for process in (scheduler, server):
            process.send_signal(signal.SIGTERM)
        scheduler_code = scheduler.wait(60)
        server.wait(60)
    log = (project.root / "scheduler.log").read_text(errors="replace")
    assert scheduler_code == 0, log[-3000:]

    state = project.dump()
    jobs, runs = state["jobs"], state["runs"]
    for job_id in watched:
        job_runs = [r for r in runs if r[0] == job_id]
        successes = sum(1 for r in job_runs if r[1] == "success")
        assert successes >= 2 and all(r[1] in ("success", "missed", "skipped") for r in job_runs)
        assert jobs[job_id][4:] == [successes, 0], job_id  # counters match the runs
        assert all(r[2] > 0 for r in job_runs if r[1] == "success")
    assert jobs["calculate_project_health"][:4] == [
        "declared",
        "计算项目健康度",
        "Backend Platform",
        "Project Health",
    ]
    assert jobs["cleanup_sessions"][:4] == [
        "discovered",
        "cleanup_sessions",
        "Backend",
        "Maintenance",
    ]
    assert jobs[LEGACY_JOB][:4] == ["discovered", "nightly_report", "", "Uncategorised"]
    # The earlier deployment's job: everything as it was, but its next run time.
    before, after = (
        pickle.loads(base64.b64decode(s)) for s in (stored_before, state["store"][LEGACY_JOB])
    )
    assert after.pop("next_run_time") > before.pop("next_run_time")
    for state in (before, after):  # triggers have no ==; their pickled state does
        state["trigger"] = state["trigger"].__getstate__()
    assert after == before
