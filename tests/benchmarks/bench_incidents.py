"""Time incident evaluation at scale and notification latency (not part of the suite).

    python -m tests.benchmarks.bench_incidents                 # SQLite file in .bench/
    python -m tests.benchmarks.bench_incidents --postgres postgres://USER@HOST:PORT/DB
    python -m tests.benchmarks.bench_incidents --runs 200000   # a smaller data set

Uses the data set of tests/benchmarks/run.py (1,000 jobs, 1,000,000 runs; built once and
reused). Prints: one evaluation of every default rule into incidents (first, with incidents
to open, then steady, the median of five) with its query count, against the evaluation
interval; and the delivery latency (outbox row to a real HTTP receiver) p50/p99 over 200
messages through the sender thread.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def evaluation_figures() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from scheduler_monitor import conf
    from scheduler_monitor.incidents import incidents_evaluate
    from scheduler_monitor.models import Incident, IncidentEvent, OutboxMessage

    OutboxMessage.objects.all().delete()
    IncidentEvent.objects.all().delete()
    Incident.objects.all().delete()
    interval = conf.get("ALERT_EVALUATION_INTERVAL")
    with CaptureQueriesContext(connection) as first_queries:
        start = time.perf_counter()
        first = incidents_evaluate()
        first_ms = (time.perf_counter() - start) * 1000
    print(
        f"first evaluation (default rules, opens {len(first.opened)} incidents): "
        f"{first_ms:.0f} ms, {len(first_queries)} queries"
    )
    times, counts = [], []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            incidents_evaluate()
            times.append((time.perf_counter() - start) * 1000)
        counts.append(len(queries))
    open_now = Incident.objects.filter(state="open").count()
    print(
        f"steady evaluation ({open_now} open incidents): median {statistics.median(times):.0f} ms "
        f"(min {min(times):.0f}, max {max(times):.0f}), queries {sorted(set(counts))}; "
        f"interval {interval} s = {interval * 1000:.0f} ms"
    )


def bookkeeping_figures() -> None:
    """Every job firing one more (synthetic) alert: 1,000 incidents open, then kept."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from scheduler_monitor.alert_rules import Alert, firing_alerts
    from scheduler_monitor.incidents import incidents_evaluate
    from scheduler_monitor.models import Incident, JobDefinition

    rule = {"name": "bench_all", "kind": "overdue", "severity": "warning"}
    rules = [*conf_rules(), rule]
    synthetic = [
        Alert(
            rule="bench_all",
            kind="overdue",
            severity="warning",
            message="bench",
            job_id=job_id,
            value=1.0,
            threshold=0.5,
        )
        for job_id in JobDefinition.objects.values_list("job_id", flat=True)
    ]

    def evaluate():
        return incidents_evaluate(rules=rules, alerts=[*firing_alerts(), *synthetic])

    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        evaluate()
    opened_ms = (time.perf_counter() - start) * 1000
    print(
        f"opening {len(synthetic)} incidents at once: {opened_ms:.0f} ms, "
        f"{len(queries)} queries (one transaction each)"
    )
    times, counts = [], []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            evaluate()
            times.append((time.perf_counter() - start) * 1000)
        counts.append(len(queries))
    print(
        f"steady evaluation with {Incident.objects.filter(state='open').count()} open "
        f"incidents: median {statistics.median(times):.0f} ms, queries {sorted(set(counts))}"
    )
    Incident.objects.filter(rule="bench_all").delete()


def conf_rules():
    from scheduler_monitor import conf

    return [{k: v for k, v in r.items()} for r in conf.alert_rules()]


def latency_figures(messages: int = 200) -> None:
    from django.utils import timezone

    from scheduler_monitor.models import (
        Incident,
        IncidentEvent,
        JobDefinition,
        NotificationChannel,
        OutboxMessage,
    )
    from scheduler_monitor.outbox import OutboxSender, outbox_enqueue
    from tests.webhook_receiver import Receiver

    with Receiver() as receiver:
        channel, _ = NotificationChannel.objects.update_or_create(
            name="bench-receiver",
            defaults={"kind": "webhook", "target": receiver.url, "secret": "bench"},
        )
        job = JobDefinition.objects.first()
        now = timezone.now()
        incident = Incident.objects.create(
            key="bench",
            rule="bench",
            kind="bench",
            job=job,
            severity="warning",
            opened_at=now,
            last_fired_at=now,
            state="resolved",
        )
        sender = OutboxSender()
        sender.start()
        created = {}
        try:
            for _ in range(messages):
                at = timezone.now()
                event = IncidentEvent.objects.create(incident=incident, kind="reminder", at=at)
                message = outbox_enqueue(
                    channel=channel,
                    incident=incident,
                    event=event,
                    payload={"body": {"n": event.pk}},
                    now=at,
                )
                created[message.idempotency_key] = at.timestamp()
                sender.wake()
                time.sleep(0.02)
            deadline = time.monotonic() + 60
            while len(receiver.messages()) < messages and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            sender.stop()
        got = receiver.messages()
    latencies = sorted((r.received_at - created[r.headers["Idempotency-Key"]]) * 1000 for r in got)
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"delivery latency, outbox row -> receiver ({len(got)}/{messages} messages): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    OutboxMessage.objects.filter(incident=incident).delete()
    incident.delete()
    channel.delete()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    sqlite_path = ROOT / ".bench" / "bench.sqlite3"
    sqlite_path.parent.mkdir(exist_ok=True)
    from tests.benchmarks.run import configure

    configure(args.postgres or f"sqlite:///{sqlite_path}")
    from django.db import connection

    from scheduler_monitor.models import JobDefinition, JobRun
    from tests.benchmarks import dataset

    have = (JobDefinition.objects.count(), JobRun.objects.count())
    if have[0] != args.jobs or abs(have[1] - args.runs) > args.runs * 0.01:
        start = time.perf_counter()
        dataset.build(jobs=args.jobs, runs=args.runs)
        print(f"built data set in {time.perf_counter() - start:.0f} s")
    dataset.schedule_ahead()
    print(
        f"# {connection.vendor}: {JobDefinition.objects.count():,} jobs, "
        f"{JobRun.objects.count():,} runs"
    )
    evaluation_figures()
    bookkeeping_figures()
    latency_figures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
