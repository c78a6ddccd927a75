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

DATASET = "suite"  # set by run.py: which data set the figures are measured on


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


def recording_figures() -> list[Figure]:
    return [recording(), recording_with_job_store()]


def recording_with_job_store(rounds: int = 9, per_round: int = 150) -> Figure:
    """Recording with the scheduler's job store listening, vs recording alone (ms per run).

    The job store's listeners get what a scheduler dispatches around each run (submitted,
    executed). Ours registers none unless DJANGO_APSCHEDULER_EXECUTIONS; django-apscheduler's
    own DjangoJobStore writes a DjangoJobExecution row and updates it (in the note).
    """
    from apscheduler.events import (
        EVENT_JOB_EXECUTED,
        EVENT_JOB_SUBMITTED,
        JobExecutionEvent,
        JobSubmissionEvent,
    )
    from apscheduler.schedulers.background import BackgroundScheduler
    from django_apscheduler.jobstores import DjangoJobStore
    from django_apscheduler.models import DjangoJob, DjangoJobExecution

    from scheduler_monitor.execution_log import MonitoredJobStore

    job = JobDefinition.objects.order_by("pk").first()
    DjangoJob.objects.get_or_create(id=job.job_id, defaults={"job_state": b""})
    started = timezone.now()
    recorder = Recorder()
    recorder.execute(job.job_id, lambda: None)

    def scheduler_with(store_class):
        scheduler = BackgroundScheduler()
        store_class().start(scheduler, "default")  # registers its listeners, if any
        return scheduler

    ours, peer = scheduler_with(MonitoredJobStore), scheduler_with(DjangoJobStore)

    def alone():
        for _ in range(per_round):
            recorder.execute(job.job_id, lambda: None)

    def with_store(scheduler):
        def run():
            for _ in range(per_round):
                now = timezone.now()
                scheduler._dispatch_event(
                    JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.job_id, "default", [now])
                )
                recorder.execute(job.job_id, lambda: None)
                scheduler._dispatch_event(
                    JobExecutionEvent(EVENT_JOB_EXECUTED, job.job_id, "default", now)
                )

        return run

    times = {"alone": [], "ours": [], "peer": []}
    for _ in range(rounds):  # interleaved
        for label, work in (
            ("alone", alone),
            ("ours", with_store(ours)),
            ("peer", with_store(peer)),
        ):
            t0 = time.perf_counter()
            work()
            times[label].append(time.perf_counter() - t0)
    DjangoJobExecution.objects.filter(run_time__gte=started).delete()
    cost = statistics.median(o / a for o, a in zip(times["ours"], times["alone"], strict=True))
    peer_cost = statistics.median(p / a for p, a in zip(times["peer"], times["alone"], strict=True))
    per_run = {k: statistics.median(v) / per_round * 1000 for k, v in times.items()}
    return Figure(
        name=f"1b. recording a run with the job store listening ({connection.vendor})",
        value=per_run["ours"],
        unit="ms/run",
        baseline=per_run["alone"],
        baseline_name="recording alone",
        target="<= 1.1x recording alone",
        met=cost <= 1.1,
        note=f"cost {cost:.2f}x; DjangoJobStore's listeners {peer_cost:.2f}x "
        f"({per_run['peer']:.2f} ms/run)",
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


def as_json(figure: Figure) -> dict:
    from dataclasses import asdict

    return {**asdict(figure), "ratio": figure.ratio}


def scheduler_memory(runs: int = 1_000_000) -> Figure:
    """RSS growth of a warmed window noting 1,000,000 recorded runs (the scheduler's path).

    What a scheduler process keeps per recorded run (window samples and the run ids it
    took); the database writes are not repeated here (figure 1 times them).
    """
    import resource

    def rss_mib() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20

    jobs = list(JobDefinition.objects.values_list("job_id", flat=True))
    window = SyncedWindow(maxlen=1000)
    window.refresh(force=True)  # warmed: ids are remembered from now on
    for job_id in jobs:  # full windows, as after a while: what grows now is bookkeeping
        window.window.replace(job_id, [1.0] * 1000, [0.0] * 1000)
    gc.collect()
    before = rss_mib()
    start = timezone.now()
    for i in range(runs):
        at = start + timedelta(microseconds=60_000_000 * i // len(jobs))
        window.note_recorded(10**12 + i, jobs[i % len(jobs)], 1.0, at, at)
    gc.collect()
    grown = rss_mib() - before
    return Figure(
        name=f"7b. scheduler RSS over {runs:,} recorded runs, window warm",
        value=grown,
        unit="MiB",
        baseline=runs * 200 / 2**20,
        baseline_name="~200 B a run (before: unbounded ids)",
        target="< +10 MB in all",
        met=grown < 10,
        note=f"{len(window._seen):,} run ids kept",
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


def prometheus_figures() -> list[Figure]:
    return prometheus_scrape()


def _change_jobs(share: float, rng: random.Random) -> None:
    """Record one run for ``share`` of the jobs, as between two scrapes of a live system."""
    from scheduler_monitor.recording import FinishedRun, get_recorder

    ids = list(JobDefinition.objects.values_list("job_id", flat=True))
    now = timezone.now()
    for job_id in rng.sample(ids, max(1, int(len(ids) * share))):
        get_recorder().write(
            FinishedRun(
                job_id=job_id,
                status="success",
                started_at=now,
                finished_at=now,
                duration_ms=rng.lognormvariate(5, 1),
            )
        )


def _interleaved_scrapes(client, url, repeat, before=None) -> tuple[float, float, bytes, bytes]:
    """Median times of the scrape uncompressed and with gzip, taken in turns (the machine's
    load moves by more than gzip costs), each after ``before``; and the last bodies."""
    times = ([], [])
    bodies = [b"", b""]
    for round_number in range(repeat):
        turns = [(0, {}), (1, {"Accept-Encoding": "gzip"})]
        for which, headers in turns if round_number % 2 else turns[::-1]:
            if before:
                before()
            gc.collect()
            t0 = time.perf_counter()
            response = client.get(url, headers=headers)
            times[which].append(time.perf_counter() - t0)
            bodies[which] = response.content
    return statistics.median(times[0]), statistics.median(times[1]), *bodies


def prometheus_scrape(repeat: int = 9) -> list[Figure]:
    """Server time of the scheduler scrape vs generate_latest over the same families in memory.

    Unchanged (a scrape right after another), 1 % of jobs changed, and each with gzip (in
    turns with the same scrape uncompressed).
    """
    from prometheus_client import generate_latest

    from scheduler_monitor.exposition import SchedulerCollector

    client = superuser_client()
    url = "/api/v1/scheduler/metrics/prometheus"
    rng = random.Random(3)
    client.get(url)
    client.get(url, headers={"Accept-Encoding": "gzip"})
    with_queries = timed_get(client, url, repeat=1)[1]
    prebuilt = _Prebuilt(list(SchedulerCollector().collect()))
    floor = median_time(lambda: generate_latest(prebuilt), repeat=repeat)
    served, zipped, body, zbody = _interleaved_scrapes(client, url, repeat)
    changed, changed_zipped, _, _ = _interleaved_scrapes(
        client, url, repeat, before=lambda: _change_jobs(0.01, rng)
    )
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    jobs = JobDefinition.objects.count()
    vendor = connection.vendor
    base = {"baseline": floor * 1000, "baseline_name": "generate_latest, families prebuilt"}
    return [
        Figure(
            name=f"3. Prometheus scrape, nothing changed, {jobs:,} jobs ({vendor})",
            value=served * 1000,
            unit="ms",
            target="< 30 ms, < 0.15x floor",
            met=served < 0.030 and served / floor < 0.15,
            note=f"{samples:,} samples, {with_queries} queries, {len(body) / 2**20:.1f} MB",
            **base,
        ),
        Figure(
            name=f"3b. Prometheus scrape, 1% of jobs changed, {jobs:,} jobs ({vendor})",
            value=changed * 1000,
            unit="ms",
            target="< 50 ms",
            met=changed < 0.050,
            **base,
        ),
        Figure(
            name=f"3c. Prometheus scrape with gzip, nothing changed ({vendor})",
            value=zipped * 1000,
            unit="ms",
            baseline=served * 1000,
            baseline_name="the same scrape uncompressed",
            target="< 1.2x uncompressed",
            met=zipped / served < 1.2,
            note=f"{len(zbody) / 1024:,.0f} KB",
        ),
        Figure(
            name=f"3d. Prometheus scrape with gzip, 1% of jobs changed ({vendor})",
            value=changed_zipped * 1000,
            unit="ms",
            baseline=changed * 1000,
            baseline_name="the same scrape uncompressed",
            target="< 1.2x uncompressed",
            met=changed_zipped / changed < 1.2,
        ),
    ]


# -- 4. JSON metrics and dashboard page ----------------------------------------------------------
def metrics_and_dashboard(repeat: int = 7) -> list[Figure]:
    """Server time and query count of the JSON API, the alerts and the dashboard pages."""
    import json

    client = superuser_client()
    jobs = JobDefinition.objects.count()

    def floor():
        rows = list(job_list().values())
        return json.dumps(rows, default=str)

    floor_s = median_time(floor, repeat=repeat)
    page_limit = {"production": 0.250, "jobs5000": 0.300}.get(DATASET, 0.300)
    figures = []
    for label, url, limit in (
        ("4a. GET /api/v1/scheduler/metrics", "/api/v1/scheduler/metrics", 0.150),
        ("4b. dashboard page /scheduler-monitoring", "/scheduler-monitoring", page_limit),
        ("4c. GET /api/v1/scheduler/alerts", "/api/v1/scheduler/alerts", 0.100),
        (
            "4d. dashboard refresh /scheduler-monitoring/fragments",
            "/scheduler-monitoring/fragments",
            page_limit,
        ),
    ):
        served, queries, body = timed_get(client, url, repeat=repeat)
        met = served < limit and queries < 40
        note = f"{queries} queries, {len(body) / 1024:,.0f} KB"
        target = f"< {limit * 1000:.0f} ms, fixed queries"
        if DATASET == "jobs5000" and url == "/scheduler-monitoring":
            met = met and len(body) < 500 * 1024
            target += ", < 500 KB"
        figures.append(
            Figure(
                name=f"{label}, {jobs:,} jobs ({connection.vendor})",
                value=served * 1000,
                unit="ms",
                baseline=floor_s * 1000,
                baseline_name="values() of the job rows + json.dumps",
                target=target,
                met=met,
                note=note,
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


def pruning(database_url: str, days: int = 8) -> list[Figure]:
    """Prune a copy of the data set with ``manage.py prune_job_runs``; time it and a reader.

    The copy (file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL) keeps the
    data set for the other figures. The baseline is the same reader's longest wait with no
    prune running, over the same number of seconds. Figure 8b: the prune's busy time (its
    own report, pauses for other writers left out) against one bare ``DELETE`` of the same
    runs on a second copy, with the same reader running.
    """
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    from urllib.parse import urlsplit, urlunsplit

    root = Path(__file__).resolve().parents[2]
    vendor = connection.vendor
    before = JobRun.objects.count()
    copies = []
    if vendor == "sqlite":
        source = connection.settings_dict["NAME"]
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        def make_copy(name):
            copy = str(Path(source).with_name(f"{name}.sqlite3"))
            for suffix in ("", "-wal", "-shm"):
                Path(copy + suffix).unlink(missing_ok=True)
            shutil.copyfile(source, copy)
            copies.append(copy)
            return f"sqlite:///{copy}", copy

    else:
        parts = urlsplit(database_url)
        source = parts.path.lstrip("/")
        import psycopg

        admin_url = urlunsplit(parts._replace(path="/postgres"))

        def make_copy(name):
            connection.close()  # a template database must have no other session
            name = f"{source}_{name}"
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
            copies.append(name)
            url = urlunsplit(parts._replace(path=f"/{name}"))
            return url, url.replace("postgres://", "postgresql://", 1)

    copy_url, reader_target = make_copy("prune")
    env = {**os.environ, "DATABASE_URL": copy_url, "DJANGO_SETTINGS_MODULE": "project.settings"}
    command = [sys.executable, "manage.py", "prune_job_runs", f"--days={days}", "--verbosity=2"]
    took = {}

    def prune():
        t0 = time.perf_counter()
        out = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        took["s"] = time.perf_counter() - t0
        if out.returncode != 0:
            raise RuntimeError(f"prune_job_runs failed: {out.stderr}")
        lines = out.stdout.strip().splitlines()
        took["out"] = lines[-1]  # "Deleted N run(s) started ..."
        took["busy"] = next(line for line in lines if line.startswith("Busy "))

    worst, reads = _reader_while(vendor, reader_target, prune)
    idle_worst, _ = _reader_while(vendor, reader_target, lambda: time.sleep(min(took["s"], 10)))
    deleted = int(took["out"].split()[1])
    # "Busy B s: rolling up R s, deleting D s in N batch(es); paused P s ..."
    numbers = [float(w) for w in took["busy"].replace(",", " ").split() if _is_float(w)]
    busy, rollup, deleting, batches, paused = numbers[:5]

    bare_url, bare_target = make_copy("bare")
    bare_env = {**env, "DATABASE_URL": bare_url}
    bare = {}

    def bare_delete():
        out = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.bare_delete", f"--days={days}"],
            cwd=root,
            env=bare_env,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"bare delete failed: {out.stderr}")
        bare.update(json.loads(out.stdout.strip().splitlines()[-1]))

    _reader_while(vendor, bare_target, bare_delete)
    if vendor == "sqlite":
        for copy in copies:
            for suffix in ("", "-wal", "-shm"):
                Path(copy + suffix).unlink(missing_ok=True)
    else:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for name in copies:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    if bare["deleted"] != deleted:
        raise RuntimeError(f"the prune deleted {deleted} runs, the bare DELETE {bare['deleted']}")
    per_million = 1_000_000 / max(deleted, 1)
    return [
        Figure(
            name=f"8. prune {deleted:,} of {before:,} runs, reader's longest wait ({vendor})",
            value=worst * 1000,
            unit="ms",
            baseline=idle_worst * 1000,
            baseline_name="same reader, no prune",
            target="reader waits < 1 s",
            met=worst < 1.0,
            note=f"prune wall time {took['s']:.1f} s (command), {reads:,} reads meanwhile",
        ),
        Figure(
            name=f"8b. prune's delete batches vs a bare DELETE of the same {deleted:,} runs "
            f"({vendor})",
            value=deleting * per_million,
            unit="s per 1M runs",
            baseline=bare["seconds"] * per_million,
            baseline_name="one DELETE ... WHERE started_at < cutoff, same reader",
            target="<= 1.5x bare DELETE",
            met=deleting <= 1.5 * bare["seconds"],
            note=f"{int(batches)} batches, {deleting:.1f} s; with the rollups busy {busy:.1f} s "
            f"({busy / bare['seconds']:.2f}x); paused {paused:.1f} s for other writers",
        ),
    ]


def _is_float(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


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
