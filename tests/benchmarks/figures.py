"""One function per benchmark figure; each returns a Figure with its same-run baseline."""

import gc
import random
import statistics
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from scheduler_monitor import heatmaps
from scheduler_monitor.failure_counts import reset_failure_memo
from scheduler_monitor.jobs import job_list
from scheduler_monitor.models import TIMED_STATUSES, JobDefinition, JobRun
from scheduler_monitor.recording import Recorder
from scheduler_monitor.rolling import RollingWindow
from scheduler_monitor.window import SyncedWindow


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- 1. recording ---------------------------------------------------------------------------
def recording(rounds: int = 9, per_round: int = 200) -> Figure:
    """Monitor's write path vs a bare ORM insert + update of the same row, runs/s."""
    job = JobDefinition.objects.order_by("pk").first()
    recorder = Recorder()
    recorder.execute(job.job_id, lambda: None)  # warm caches

    def monitored():
        for _ in range(per_round):
            recorder.execute(job.job_id, lambda: None)

    def bare():
        for _ in range(per_round):
            now = timezone.now()
            run = JobRun.objects.create(
                job_id=job.pk, status="running", started_at=now, hostname="bench", pid=1
            )
            JobRun.objects.filter(pk=run.pk).update(
                status="success", finished_at=now, duration_ms=0.01, recorded_at=now
            )

    monitor_times, bare_times = [], []
    for _ in range(rounds):  # interleaved so machine noise hits both alike
        t0 = time.perf_counter()
        monitored()
        monitor_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare()
        bare_times.append(time.perf_counter() - t0)
    monitor_rate = per_round / statistics.median(monitor_times)
    bare_rate = per_round / statistics.median(bare_times)
    # Time per run, monitor over bare: the median of each round's pair, measured back to
    # back, so a burst of background I/O on the shared machine skews one pair, not both.
    cost = statistics.median(m / b for m, b in zip(monitor_times, bare_times, strict=True))
    return Figure(
        name=f"1. recording a run ({connection.vendor})",
        value=monitor_rate,
        unit="runs/s",
        baseline=bare_rate,
        baseline_name="bare ORM insert+update",
        target="cost <= 1.5x bare",
        met=cost <= 1.5,
        note=f"cost {cost:.2f}x bare per run",
    )


# -- 2. window statistics ----------------------------------------------------------------------
def brief_percentile(data, p):
    """The brief's percentile, as its collector computes it on every call."""
    if not data:
        return 0.0
    k = (len(data) - 1) * p
    f = int(k)
    c = k - f
    if f + 1 < len(data):
        return data[f] + c * (data[f + 1] - data[f])
    return data[f]


def brief_all_statistics(histories: dict[str, deque]) -> dict:
    out = {}
    for job_id, history in histories.items():
        data = sorted(history)
        out[job_id] = {
            "avg": sum(data) / len(data),
            "p50": brief_percentile(data, 0.5),
            "p95": brief_percentile(data, 0.95),
            "p99": brief_percentile(data, 0.99),
            "min": data[0],
            "max": data[-1],
            "count": len(data),
        }
    return out


def window_statistics(jobs: int = 1000, samples: int = 1000) -> Figure:
    rng = random.Random(3)
    window = RollingWindow(maxlen=samples)
    histories = {}
    for j in range(jobs):
        values = [rng.lognormvariate(5, 1) for _ in range(samples)]
        window.replace(f"j{j}", values)
        histories[f"j{j}"] = deque(values, maxlen=samples)
    window.get_all_statistics()
    changed = max(1, jobs // 100)

    def ours():
        for j in rng.sample(range(jobs), changed):
            window.add(f"j{j}", rng.lognormvariate(5, 1))
        window.get_all_statistics()

    def brief():
        for j in rng.sample(range(jobs), changed):
            histories[f"j{j}"].append(rng.lognormvariate(5, 1))
        brief_all_statistics(histories)

    ours_s = median_time(ours, repeat=9)
    brief_s = median_time(brief, repeat=5)
    speedup = brief_s / ours_s
    return Figure(
        name="2. get_all_statistics, 1% of jobs changed",
        value=ours_s * 1000,
        unit="ms",
        baseline=brief_s * 1000,
        baseline_name="sort every history every call",
        target=">= 50x faster",
        met=speedup >= 50,
        note=f"{speedup:.0f}x faster",
    )


# -- 5. heatmap and trends ------------------------------------------------------------------
def heatmap_and_trends() -> list[Figure]:
    since_24h = timezone.now() - timedelta(hours=24)
    since_30d = timezone.now() - timedelta(days=30)
    floor_24h = median_time(lambda: JobRun.objects.filter(started_at__gte=since_24h).count())
    heat = median_time(lambda: heatmaps.failure_heatmap(hours=24))
    floor_30d = median_time(lambda: JobRun.objects.filter(started_at__gte=since_30d).count(), 3)

    def first_trend():
        reset_failure_memo()  # as in a new process: past days not yet memoised
        heatmaps.failure_heatmap(hours=720, bucket="day")

    cold = median_time(first_trend, 3)
    trend = median_time(lambda: heatmaps.failure_heatmap(hours=720, bucket="day"), 3)
    return [
        Figure(
            name=f"5a. failure heatmap 24 h hourly ({connection.vendor})",
            value=heat * 1000,
            unit="ms",
            baseline=floor_24h * 1000,
            baseline_name="COUNT(*) of the same 24 h",
            target="< 50 ms",
            met=heat < 0.05,
        ),
        *(
            Figure(
                name=f"5b. failures 30 days daily, {call} ({connection.vendor})",
                value=seconds * 1000,
                unit="ms",
                baseline=floor_30d * 1000,
                baseline_name="COUNT(*) of the same 30 days",
                target="< 200 ms",
                met=seconds < 0.2,
                note=note,
            )
            for call, seconds, note in (
                ("first call", cold, "past days counted"),
                ("again", trend, "past days memoised"),
            )
        ),
    ]


# -- 6. cold start ----------------------------------------------------------------------------
def naive_row_number_warm(limit: int) -> dict:
    ranked = (
        JobRun.objects.filter(status__in=TIMED_STATUSES)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("job_id")], order_by=F("started_at").desc())
        )
        .filter(rank__lte=limit)
    )
    histories: dict[int, list] = {}
    for run in ranked:
        histories.setdefault(run.job_id, []).append(run.duration_ms)
    return histories


def cold_start(samples: int = 1000, with_baseline: bool = True) -> Figure:
    def warm():
        SyncedWindow(maxlen=samples).refresh(force=True)

    ours = median_time(warm, repeat=3)
    baseline = None
    if with_baseline:
        t0 = time.perf_counter()
        naive_row_number_warm(samples)
        baseline = time.perf_counter() - t0
    return Figure(
        name=f"6. cold start: warm 1,000 jobs x 1,000 ({connection.vendor})",
        value=ours,
        unit="s",
        baseline=baseline,
        baseline_name="naive ROW_NUMBER() ORM query",
        target="< 2 s",
        met=ours < 2,
    )


# -- 7. memory ---------------------------------------------------------------------------------
def window_memory(jobs: int = 1000, samples: int = 1000) -> Figure:
    rng = random.Random(9)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    window = RollingWindow(maxlen=samples)
    for j in range(jobs):
        window.replace(f"job_{j:04d}", [rng.lognormvariate(5, 1) for _ in range(samples)])
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_sample = (after - before) / (jobs * samples)
    # Reference: the raw data alone as 8-byte doubles.
    return Figure(
        name="7. window memory, 1,000 x 1,000 samples",
        value=per_sample,
        unit="bytes/sample",
        baseline=8.0,
        baseline_name="one C double",
        target="< 48 bytes/sample",
        met=per_sample < 48,
        note=f"{(after - before) / 2**20:.1f} MiB in all; keeps {window.maxlen} per job",
    )


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(figures: list[Figure]) -> str:
    header = ["figure", "measured", "baseline", "ratio", "target", "met", "note"]
    rows = [
        [
            f.name,
            f"{fmt(f.value)} {f.unit}",
            f"{fmt(f.baseline)} ({f.baseline_name})" if f.baseline is not None else "-",
            "-" if f.ratio is None else f"{f.ratio:.2f}x",
            f.target,
            {True: "yes", False: "NO", None: "-"}[f.met],
            f.note,
        ]
        for f in figures
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


# -- shared: a logged-in test client and timed requests ------------------------------------------
def superuser_client():
    """A Django test client logged in as a superuser (staff pages, admin, metrics)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    user_model = get_user_model()
    user = user_model.objects.filter(username="bench").first()
    if user is None:
        user = user_model.objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    return client


def timed_get(client, url: str, repeat: int = 5, **headers) -> tuple[float, int, bytes]:
    """Median server time of GET ``url`` (s), its query count, and the last body."""
    from django.test.utils import CaptureQueriesContext

    response = client.get(url, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    count = len(queries)  # now: the next request_started clears the connection's log
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), count, response.content


# -- 3. Prometheus scrape -----------------------------------------------------------------------
class _Prebuilt:
    """A registry stand-in that yields families built once, so only the encoding is timed."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


def prometheus_scrape(repeat: int = 7) -> Figure:
    """Server time of the scheduler scrape vs generate_latest over the same families in memory."""
    from prometheus_client import generate_latest

    from scheduler_monitor.exposition import SchedulerCollector

    client = superuser_client()
    url = "/api/v1/scheduler/metrics/prometheus"
    served, queries, body = timed_get(client, url, repeat=repeat)
    prebuilt = _Prebuilt(list(SchedulerCollector().collect()))
    floor = median_time(lambda: generate_latest(prebuilt), repeat=repeat)
    ratio = served / floor
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return Figure(
        name=f"3. Prometheus scrape, {JobDefinition.objects.count():,} jobs ({connection.vendor})",
        value=served * 1000,
        unit="ms",
        baseline=floor * 1000,
        baseline_name="generate_latest, families prebuilt",
        target="<= 1.3x floor",
        met=ratio <= 1.3,
        note=f"{samples:,} samples, {queries} queries",
    )


# -- 4. JSON metrics and dashboard page ----------------------------------------------------------
def metrics_and_dashboard(repeat: int = 7) -> list[Figure]:
    """Server time and query count of /api/v1/scheduler/metrics and the dashboard page."""
    import json

    client = superuser_client()
    jobs = JobDefinition.objects.count()

    def floor():
        rows = list(job_list().values())
        return json.dumps(rows, default=str)

    floor_s = median_time(floor, repeat=repeat)
    figures = []
    for label, url, limit in (
        ("4a. GET /api/v1/scheduler/metrics", "/api/v1/scheduler/metrics", 0.150),
        ("4b. dashboard page /scheduler-monitoring", "/scheduler-monitoring", 0.300),
    ):
        served, queries, _ = timed_get(client, url, repeat=repeat)
        figures.append(
            Figure(
                name=f"{label}, {jobs:,} jobs ({connection.vendor})",
                value=served * 1000,
                unit="ms",
                baseline=floor_s * 1000,
                baseline_name="values() of the job rows + json.dumps",
                target=f"< {limit * 1000:.0f} ms, fixed queries",
                met=served < limit and queries < 40,
                note=f"{queries} queries",
            )
        )
    return figures


# -- 8. pruning with a concurrent reader ----------------------------------------------------------
def _reader_while(vendor: str, target: str, work: Callable[[], object]) -> tuple[float, int]:
    """Run ``work`` while a reader process loops; return the reader's longest wait and count."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    stop, result = ctx.Event(), ctx.Queue()
    from tests.benchmarks.reader import read_loop

    reader = ctx.Process(target=read_loop, args=(vendor, target, stop, result))
    reader.start()
    time.sleep(1.0)  # let the spawned interpreter start reading before the work begins
    try:
        work()
    finally:
        stop.set()
        worst, count = result.get(timeout=60)
        reader.join(timeout=30)
    return worst, count


def pruning(database_url: str, days: int = 8) -> Figure:
    """Prune a copy of the data set with ``manage.py prune_job_runs``; time it and a reader.

    The copy (file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL) keeps the
    data set for the other figures. The baseline is the same reader's longest wait with no
    prune running, over the same number of seconds.
    """
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    from urllib.parse import urlsplit, urlunsplit

    root = Path(__file__).resolve().parents[2]
    vendor = connection.vendor
    if vendor == "sqlite":
        source = connection.settings_dict["NAME"]
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        copy = str(Path(source).with_name("prune.sqlite3"))
        for suffix in ("", "-wal", "-shm"):
            Path(copy + suffix).unlink(missing_ok=True)
        shutil.copyfile(source, copy)
        copy_url, reader_target = f"sqlite:///{copy}", copy
    else:
        parts = urlsplit(database_url)
        source = parts.path.lstrip("/")
        name = f"{source}_prune"
        connection.close()
        import psycopg

        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        copy_url = urlunsplit(parts._replace(path=f"/{name}"))
        reader_target = copy_url.replace("postgres://", "postgresql://", 1)
    env = {**os.environ, "DATABASE_URL": copy_url, "DJANGO_SETTINGS_MODULE": "project.settings"}
    before = JobRun.objects.count()
    command = [sys.executable, "manage.py", "prune_job_runs", f"--days={days}"]
    took = {}

    def prune():
        t0 = time.perf_counter()
        out = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        took["s"] = time.perf_counter() - t0
        if out.returncode != 0:
            raise RuntimeError(f"prune_job_runs failed: {out.stderr}")
        took["out"] = out.stdout.strip().splitlines()[-1]  # "Deleted N run(s) started ..."

    worst, reads = _reader_while(vendor, reader_target, prune)
    idle_worst, _ = _reader_while(vendor, reader_target, lambda: time.sleep(min(took["s"], 10)))
    deleted = int(took["out"].split()[1])
    if vendor == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(copy + suffix).unlink(missing_ok=True)
    else:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    return Figure(
        name=f"8. prune {deleted:,} of {before:,} runs, reader's longest wait ({vendor})",
        value=worst * 1000,
        unit="ms",
        baseline=idle_worst * 1000,
        baseline_name="same reader, no prune",
        target="reader waits < 1 s",
        met=worst < 1.0,
        note=f"prune wall time {took['s']:.1f} s (command), {reads:,} reads meanwhile",
    )


# -- 9. peer: django-apscheduler's admin changelists ---------------------------------------------
def peer_pages(repeat: int = 5) -> list[Figure]:
    """django-apscheduler's admin changelists vs our dashboard and our run list, same data."""
    client = superuser_client()
    job = JobDefinition.objects.order_by("pk").first()
    pairs = [
        (
            "9a. jobs: our dashboard vs DjangoJob changelist",
            "/scheduler-monitoring",
            "/admin/django_apscheduler/djangojob/",
        ),
        (
            "9b. runs: our JobRun changelist vs DjangoJobExecution changelist",
            "/admin/scheduler_monitor/jobrun/",
            "/admin/django_apscheduler/djangojobexecution/",
        ),
        (
            "9c. one job's runs: our job page vs DjangoJobExecution filtered",
            f"/scheduler-monitoring/jobs/{job.job_id}",
            f"/admin/django_apscheduler/djangojobexecution/?job__id__exact={job.job_id}",
        ),
    ]
    figures = []
    for name, ours_url, peer_url in pairs:
        ours, our_queries, _ = timed_get(client, ours_url, repeat=repeat)
        peer, peer_queries, _ = timed_get(client, peer_url, repeat=repeat)
        figures.append(
            Figure(
                name=f"{name} ({connection.vendor})",
                value=ours * 1000,
                unit="ms",
                baseline=peer * 1000,
                baseline_name=f"django-apscheduler admin, {peer_queries} queries",
                target="-",
                met=None,
                note=f"ours {our_queries} queries",
            )
        )
    return figures
