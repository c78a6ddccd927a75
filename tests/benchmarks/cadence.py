"""Figure 10: scheduled-start delay under a manual-trigger flood and under a prune.

A real ``runapscheduler`` runs four jobs due every second on a scratch database (its own
SQLite file, or a new PostgreSQL database next to the data set's). Their start delay
(started_at - scheduled_at, read back from the recorded runs) is measured three times:

- neither: nothing else happens (the baseline);
- flood: 150 ``POST .../trigger?allow_concurrent=1`` over five slow jobs, at once;
- prune: ``manage.py prune_job_runs --days 30`` deletes 96,000 old runs meanwhile.

    python -m tests.benchmarks.cadence                       # SQLite, .bench/cadence.sqlite3
    python -m tests.benchmarks.cadence --postgres postgres://USER@HOST/DB   # DB_cadence

``make bench`` runs it too (``--only 10``). Prints one JSON line per phase, then a table.
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
WINDOW = 30  # seconds of scheduled runs per phase
FLOOD = 150
PRUNE_RUNS = 96_000


def scratch_database(postgres: str | None) -> str:
    """A new, empty database for the figure; its DATABASE_URL."""
    if not postgres:
        path = ROOT / ".bench" / "cadence.sqlite3"
        path.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    parts = urlsplit(postgres)
    name = f"{parts.path.lstrip('/')}_cadence"
    admin_url = urlunsplit(parts._replace(path="/postgres")).replace("postgres://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def measure(database_url: str) -> list[dict]:
    """Run the three phases against ``database_url`` (already configured); one dict each."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from scheduler_monitor.models import JobRun, TriggerRequest, TriggerStatus
    from tests.cadence import MANUAL, TICKS, start_delays, summary
    from tests.prunable_history import add_prunable_runs
    from tests.subprocesses import wait_for

    logging.getLogger("django.request").setLevel(logging.ERROR)  # 128 x "Too Many Requests"
    call_command("migrate", verbosity=0, interactive=False)
    add_prunable_runs(PRUNE_RUNS, days=1)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.cadence_settings",
    }
    log = open(ROOT / ".bench" / "cadence-scheduler.log", "w")  # noqa: SIM115
    scheduler = subprocess.Popen(
        [sys.executable, "manage.py", "runapscheduler"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    phases = []
    try:
        wait_for(
            lambda: JobRun.objects.filter(job__job_id__in=TICKS).count() >= 3 * len(TICKS),
            timeout=120,
        )

        def phase(name: str, work) -> None:
            start = timezone.now()
            note = work() or ""
            end = max(timezone.now(), start + timedelta(seconds=WINDOW))
            wait_for(lambda: timezone.now() > end + timedelta(seconds=3), timeout=60)
            result = {"phase": name, **summary(start_delays(TICKS, since=start, until=end))}
            result["seconds"] = round((end - start).total_seconds(), 1)
            result["expected_runs"] = int(len(TICKS) * (end - start).total_seconds())
            result["note"] = note
            phases.append(result)
            print(json.dumps(result), flush=True)

        phase("neither", lambda: time.sleep(WINDOW))

        user = User.objects.create_superuser("cadence-bench", password=None)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")

        def flood():
            codes = [
                client.post(
                    f"/api/v1/scheduler/jobs/{MANUAL[n % len(MANUAL)]}/trigger?allow_concurrent=1"
                ).status_code
                for n in range(FLOOD)
            ]
            return f"{codes.count(202)} accepted, {codes.count(429)} answered 429"

        phase("flood", flood)
        # Let the accepted manual runs drain before the next phase.
        wait_for(
            lambda: (
                not TriggerRequest.objects.filter(
                    status__in=[TriggerStatus.PENDING, TriggerStatus.RUNNING]
                ).exists()
            ),
            timeout=600,
        )

        def prune():
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "manage.py", "prune_job_runs", "--days=30"],
                cwd=ROOT,
                env={**env, "DJANGO_SETTINGS_MODULE": "project.settings"},
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                raise RuntimeError(out.stderr)
            took = time.perf_counter() - t0
            return f"{out.stdout.strip().splitlines()[-1]} in {took:.1f} s"

        phase("prune", prune)
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=60)
        log.close()
    return phases


def figures(phases: list[dict], vendor: str):
    """The phases as benchmark Figures: p50 and p99 start delay against 'neither'."""
    from tests.benchmarks.figures import Figure

    base = next(p for p in phases if p["phase"] == "neither")
    result = []
    for p in phases:
        if p["phase"] == "neither":
            continue
        for q in ("p50", "p99"):
            result.append(
                Figure(
                    name=f"10. scheduled-start delay {q} under a {p['phase']} ({vendor})",
                    value=p[q] * 1000,
                    unit="ms",
                    baseline=base[q] * 1000,
                    baseline_name="same ticks, neither flood nor prune",
                    target="p99 < 1 s" if q == "p99" else "",
                    met=p[q] < 1.0 if q == "p99" else None,
                    note=f"{p['runs']}/{p['expected_runs']} due runs started; {p['note']}",
                )
            )
    return result


def in_subprocess(postgres: str | None, vendor: str):
    """Figure 10 for ``make bench``: the phases measured by a process of its own (it needs a
    database of its own, and the bench process is set up on the data set's)."""
    command = [sys.executable, "-m", "tests.benchmarks.cadence"]
    if postgres:
        command += ["--postgres", postgres]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"figure 10 failed: {out.stderr[-3000:]}")
    phases = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return figures(phases, vendor)


def run(postgres: str | None = None) -> list[dict]:
    """Configure Django on a scratch database and measure the phases there."""
    from tests.benchmarks.run import configure

    database_url = scratch_database(postgres)
    configure(database_url)
    return measure(database_url)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="measure on a new database beside URL")
    args = parser.parse_args(argv)
    phases = run(args.postgres)
    from django.db import connection

    from tests.benchmarks.figures import table

    print(table(figures(phases, connection.vendor)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
