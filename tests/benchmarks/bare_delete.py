"""Figure 8b's baseline: one bare ``DELETE`` of the runs a prune of ``--days`` deletes.

    DATABASE_URL=... python -m tests.benchmarks.bare_delete --days 8

Runs on a copy of the data set (figures.pruning makes it), through Django's connection with
the project's settings (WAL and ``synchronous=NORMAL`` on SQLite), in one transaction.
Prints one JSON line: ``{"deleted": N, "seconds": S}``.
"""

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from scheduler_monitor.models import FINISHED_STATUSES, JobRun
    from scheduler_monitor.timestamps import utc_day_start

    # The prune's cutoff: whole UTC days that ended ``days`` days ago (retention.py).
    cutoff = utc_day_start(timezone.now()) - timedelta(days=args.days)
    table = connection.ops.quote_name(JobRun._meta.db_table)
    statuses = ", ".join(["%s"] * len(FINISHED_STATUSES))
    sql = f"DELETE FROM {table} WHERE started_at < %s AND status IN ({statuses})"
    connection.ensure_connection()
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(cutoff), *FINISHED_STATUSES])
        deleted = cursor.rowcount
    seconds = time.perf_counter() - t0
    print(json.dumps({"deleted": deleted, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
