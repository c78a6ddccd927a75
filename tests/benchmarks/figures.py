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

from scheduler_monitor import selectors
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
def recording(rounds: int = 5, per_round: int = 200) -> Figure:
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
    cost = bare_rate / monitor_rate  # time per run, monitor over bare
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
    heat = median_time(lambda: selectors.failure_heatmap(hours=24))
    floor_30d = median_time(lambda: JobRun.objects.filter(started_at__gte=since_30d).count(), 3)
    trend = median_time(lambda: selectors.failure_heatmap(hours=720, bucket="day"), 3)
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
        Figure(
            name=f"5b. failures 30 days daily ({connection.vendor})",
            value=trend * 1000,
            unit="ms",
            baseline=floor_30d * 1000,
            baseline_name="COUNT(*) of the same 30 days",
            target="< 200 ms",
            met=trend < 0.2,
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
