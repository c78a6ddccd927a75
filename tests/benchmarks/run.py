"""Run the benchmark suite and print a table of figures with same-run baselines.

    python -m tests.benchmarks.run                      # SQLite (WAL), the three data sets
    python -m tests.benchmarks.run --postgres postgres://user@127.0.0.1:5432/bench
    python -m tests.benchmarks.run --dataset production # one data set (suite, production, jobs5000)
    python -m tests.benchmarks.run --dataset suite --runs 100000  # a quicker, smaller run
    python -m tests.benchmarks.run --only 3,4           # only these figures

Data sets (tests/benchmarks/dataset.py): ``suite`` 1,000 jobs x 1,000,000 runs over 30 days;
``production`` 1,000 jobs each running every minute for 25 h (1,500,000 runs) plus 30 days
of daily rollups; ``jobs5000`` 5,000 jobs x 1,000,000 runs. Each lives in its own SQLite
file (``.bench/``) or PostgreSQL database (the given one, ``_production``, ``_jobs5000``).
With several data sets, each runs in its own process and a table with a column per data
set follows.

Runs with DEBUG off. Figure 8 prunes a copy of the data set (a file copy on SQLite, a
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, so the user needs CREATEDB). Results of a
full run on both databases: tests/benchmarks/RESULTS.md.

The data set is built once per database and reused while its newest run is less than
STALE_MINUTES old (``--rebuild`` forces a new one); its construction is never part of a
timed figure.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def configure(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    # Production-like: DEBUG would log every query (and cap CaptureQueriesContext's count).
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-not-secret")
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# The data sets (built by dataset.build): rollup_days of daily rollups before the runs.
PROFILES = {
    "suite": {"jobs": 1000, "runs": 1_000_000, "days": 30, "rollup_days": 0},
    "production": {"jobs": 1000, "runs": 1_500_000, "days": 25 / 24, "rollup_days": 30},
    "jobs5000": {"jobs": 5000, "runs": 1_000_000, "days": 30, "rollup_days": 0},
}
DATASETS = tuple(PROFILES)


def database_for(args, name: str) -> str:
    """The database URL of one data set (created on PostgreSQL if missing)."""
    if not args.postgres:
        filename = "bench.sqlite3" if name == "suite" else f"{name}.sqlite3"
        path = ROOT / ".bench" / filename
        path.parent.mkdir(exist_ok=True)
        return f"sqlite:///{path}"
    if name == "suite":
        return args.postgres
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(args.postgres)
    database = f"{parts.path.lstrip('/')}_{name}"
    admin = urlunsplit(parts._replace(path="/postgres")).replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return urlunsplit(parts._replace(path=f"/{database}"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="benchmark on this PostgreSQL database")
    parser.add_argument(
        "--dataset", default="all", choices=[*DATASETS, "all"], help="data set (default: all)"
    )
    parser.add_argument("--jobs", type=int, help="override the data set's number of jobs")
    parser.add_argument("--runs", type=int, help="override the data set's number of runs")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set")
    parser.add_argument(
        "--skip-baseline-warm",
        action="store_true",
        help="skip the slow naive ROW_NUMBER() baseline of figure 6",
    )
    parser.add_argument("--only", metavar="N,N", help="only these figures, e.g. 3,4")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.dataset == "all":
        return run_all(args)
    return run_one(args)


def run_all(args) -> int:
    """Run each data set in its own process; print a table with a column per data set."""
    import tempfile

    passed = [f"--postgres={args.postgres}"] if args.postgres else []
    passed += [f"--jobs={args.jobs}"] if args.jobs else []
    passed += [f"--runs={args.runs}"] if args.runs else []
    passed += [f"--only={args.only}"] if args.only else []
    passed += ["--rebuild"] if args.rebuild else []
    passed += ["--skip-baseline-warm"] if args.skip_baseline_warm else []
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in DATASETS:
            out = Path(tmp) / f"{name}.json"
            command = [sys.executable, "-m", "tests.benchmarks.run", *passed]
            command += ["--dataset", name, "--json", str(out)]
            print(f"## data set {name}", flush=True)
            if subprocess.run(command, cwd=ROOT).returncode != 0:
                print(f"data set {name} failed", flush=True)
                continue
            results[name] = json.loads(out.read_text())
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print()
    print(dataset_table(results))
    return 0 if len(results) == len(DATASETS) else 1


def figure_key(name: str) -> str:
    """The name without its database and data-set counts, to line data sets up."""
    import re

    name = re.sub(r" \((sqlite|postgresql)\)$", "", name)
    return re.sub(r"\d{1,3}(,\d{3})+", "N", name)


def dataset_table(results: dict[str, list[dict]]) -> str:
    """One row per figure, one column per data set: measured (ratio to baseline, met)."""
    names = list(results)
    rows: dict[str, dict[str, str]] = {}
    targets: dict[str, str] = {}
    for dataset_name, figures in results.items():
        for f in figures:
            key = figure_key(f["name"])
            ratio = "" if f["ratio"] is None else f", {f['ratio']:.2f}x"
            met = {True: "", False: " NO", None: ""}[f["met"]]
            cell = f"{fmt(f['value'])} {f['unit']}{ratio}{met}"
            if f["note"]:
                cell += f" ({f['note']})"
            rows.setdefault(key, {})[dataset_name] = cell
            targets[key] = f["target"]
    header = ["figure", "target", *names]
    body = [[key, targets[key], *(cells.get(n, "-") for n in names)] for key, cells in rows.items()]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in body:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


# A data set's runs end when it was built. Older than this, its last hour (what the alert
# rules, the summary cards and the hourly heatmap read) is no longer a full hour of runs.
STALE_MINUTES = 15


def dataset_age_minutes() -> float:
    """Minutes since the newest run of the data set started (infinite when it has none)."""
    from datetime import UTC, datetime

    from scheduler_monitor.models import JobRun

    newest = JobRun.objects.order_by("-started_at").values_list("started_at", flat=True).first()
    return (datetime.now(UTC) - newest).total_seconds() / 60 if newest else float("inf")


def run_one(args) -> int:
    profile = dict(PROFILES[args.dataset])
    if args.jobs:
        profile["jobs"] = args.jobs
    if args.runs:
        profile["runs"] = args.runs
    if profile["jobs"] < 1 or profile["runs"] < profile["jobs"]:
        raise SystemExit("--jobs must be >= 1 and --runs >= --jobs")
    database_url = database_for(args, args.dataset)
    configure(database_url)

    from django.db import connection

    from scheduler_monitor.models import JobDefinition, JobRun
    from tests.benchmarks import cadence, dataset, figures

    runs_wanted = profile["runs"]
    have = (JobDefinition.objects.count(), JobRun.objects.count())
    # Each job's runs are a step apart, so at build time the newest run is up to a step old.
    step_minutes = profile["days"] * 1440 / (profile["runs"] // profile["jobs"])
    stale = dataset_age_minutes() > step_minutes + STALE_MINUTES
    if stale:
        print(f"data set {args.dataset} is over {STALE_MINUTES} min old: rebuilding", flush=True)
    if (
        args.rebuild
        or stale
        or have[0] != profile["jobs"]
        or abs(have[1] - runs_wanted) > runs_wanted * 0.01
    ):
        t0 = time.perf_counter()
        jobs, runs = dataset.build(**profile)
        took = time.perf_counter() - t0
        print(
            f"built data set {args.dataset}: {jobs:,} jobs, {runs:,} runs in {took:.1f}s "
            f"({runs / took:,.0f} rows/s)",
            flush=True,
        )

    from django_apscheduler.models import DjangoJobExecution

    peer = DjangoJobExecution.objects.count()
    if args.rebuild or abs(peer - JobRun.objects.count()) > runs_wanted * 0.01:
        t0 = time.perf_counter()
        peer = dataset.build_peer(runs=runs_wanted, days=profile["days"])
        print(f"built peer data set: {peer:,} executions in {time.perf_counter() - t0:.1f}s")

    figures.DATASET = args.dataset
    dataset.schedule_ahead()
    print(
        f"# {args.dataset} on {connection.vendor} | Python {platform.python_version()} "
        f"| {platform.machine()} | {os.cpu_count()} CPUs "
        f"| {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    prune_days = 1 if profile["days"] < 8 else 8
    results = []
    steps = [
        lambda: figures.recording_figures(),
        lambda: [figures.window_statistics()],
        figures.heatmap_and_trends,
        lambda: [figures.cold_start(with_baseline=not args.skip_baseline_warm)],
        lambda: [figures.window_memory(), figures.scheduler_memory()],
        figures.prometheus_figures,
        figures.metrics_and_dashboard,
        figures.peer_pages,
        lambda: cadence.in_subprocess(args.postgres, connection.vendor),
        lambda: figures.pruning(database_url, days=prune_days),  # last: closes the connection
    ]
    if args.only:
        wanted = {int(n) for n in args.only.split(",")}
        numbers = [1, 2, 5, 6, 7, 3, 4, 9, 10, 8]
        steps = [s for n, s in zip(numbers, steps, strict=True) if n in wanted]
    for step in steps:
        for figure in step():
            results.append(figure)
            print(f"  {figure.name}: {figures.fmt(figure.value)} {figure.unit}", flush=True)
    print()
    print(figures.table(results))
    if args.json:
        Path(args.json).write_text(json.dumps([figures.as_json(f) for f in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
