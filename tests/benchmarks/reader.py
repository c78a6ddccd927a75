"""A concurrent reader for the pruning figure; no Django here, so a spawned process starts fast."""

import time

READER_SQL = (
    "SELECT id, status, duration_ms FROM scheduler_monitor_jobrun "
    "WHERE job_id = {p} ORDER BY started_at DESC LIMIT 20"
)


def read_loop(vendor: str, target: str, stop, result) -> None:
    """Run a simple read query in a loop on its own connection; put the longest wait."""
    if vendor == "sqlite":
        import sqlite3

        conn = sqlite3.connect(target, timeout=60)
        sql = READER_SQL.format(p="?")
    else:
        import psycopg

        conn = psycopg.connect(target, autocommit=True)
        sql = READER_SQL.format(p="%s")
    cursor = conn.cursor()
    cursor.execute("SELECT id FROM scheduler_monitor_jobdefinition ORDER BY id")
    jobs = [row[0] for row in cursor.fetchall()]
    worst, count = 0.0, 0
    while not stop.is_set():
        job = jobs[count % len(jobs)]
        t0 = time.perf_counter()
        cursor = conn.cursor()
        cursor.execute(sql, (job,))
        cursor.fetchall()
        worst = max(worst, time.perf_counter() - t0)
        count += 1
    conn.close()
    result.put((worst, count))
