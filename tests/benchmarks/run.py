"""Run the benchmark suite and print a table of figures with same-run baselines.

    python -m tests.benchmarks.run                      # SQLite (WAL), 1,000 jobs x 1,000,000 runs
    python -m tests.benchmarks.run --postgres postgres://user@127.0.0.1:5432/bench
    python -m tests.benchmarks.run --runs 100000        # a quicker, smaller run
    python -m tests.benchmarks.run --only 3,4           # only these figures

Runs with DEBUG off. Figure 8 prunes a copy of the data set (a file copy on SQLite, a
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, so the user needs CREATEDB). Results of a
full run on both databases: tests/benchmarks/RESULTS.md.

The data set is built once per database and reused (``--rebuild`` forces a new one); its
construction is never part of a timed figure.
"""

import argparse
import os
import platform
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="benchmark on this PostgreSQL database")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set")
    parser.add_argument(
        "--skip-baseline-warm",
        action="store_true",
        help="skip the slow naive ROW_NUMBER() baseline of figure 6",
    )
    parser.add_argument("--only", metavar="N,N", help="only these figures, e.g. 3,4")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.runs < args.jobs:
        parser.error("--jobs must be >= 1 and --runs >= --jobs")

    sqlite_path = ROOT / ".bench" / "bench.sqlite3"
    sqlite_path.parent.mkdir(exist_ok=True)
    database_url = args.postgres or f"sqlite:///{sqlite_path}"
    configure(database_url)

    from django.db import connection

    from scheduler_monitor.models import JobDefinition, JobRun
    from tests.benchmarks import cadence, dataset, figures

    have = (JobDefinition.objects.count(), JobRun.objects.count())
    if args.rebuild or have[0] != args.jobs or abs(have[1] - args.runs) > args.runs * 0.01:
        t0 = time.perf_counter()
        jobs, runs = dataset.build(jobs=args.jobs, runs=args.runs)
        took = time.perf_counter() - t0
        print(
            f"built data set: {jobs:,} jobs, {runs:,} runs in {took:.1f}s "
            f"({runs / took:,.0f} rows/s)",
            flush=True,
        )

    from django_apscheduler.models import DjangoJobExecution

    peer = DjangoJobExecution.objects.count()
    if args.rebuild or abs(peer - JobRun.objects.count()) > args.runs * 0.01:
        t0 = time.perf_counter()
        peer = dataset.build_peer(runs=args.runs)
        print(f"built peer data set: {peer:,} executions in {time.perf_counter() - t0:.1f}s")

    dataset.schedule_ahead()
    print(
        f"# {connection.vendor} | Python {platform.python_version()} | {platform.machine()} "
        f"| {os.cpu_count()} CPUs | {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    results = []
    steps = [
        lambda: [figures.recording()],
        lambda: [figures.window_statistics()],
        figures.heatmap_and_trends,
        lambda: [figures.cold_start(with_baseline=not args.skip_baseline_warm)],
        lambda: [figures.window_memory()],
        lambda: [figures.prometheus_scrape()],
        figures.metrics_and_dashboard,
        figures.peer_pages,
        lambda: cadence.in_subprocess(args.postgres, connection.vendor),
        lambda: [figures.pruning(database_url)],  # last: it closes the connection
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
