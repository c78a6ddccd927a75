"""SQLite query plans, with and without the statistics ANALYZE leaves on a large table.

SQLite's planner picks indexes from ``sqlite_stat1`` when it exists (after ``ANALYZE`` or
``PRAGMA optimize``) and from fixed guesses when it does not; a query must read the right
index either way. The statistics below are those ANALYZE wrote for the benchmark data set
(1,000 jobs, 1,000,000 runs).
"""

from django.db import connection

MILLION_RUN_STATISTICS = [
    (
        "scheduler_monitor_jobdefinition",
        "scheduler_monitor_jobdefinition_category_222c079b",
        "1000 50",
    ),
    (
        "scheduler_monitor_jobdefinition",
        "sqlite_autoindex_scheduler_monitor_jobdefinition_1",
        "1000 1",
    ),
    ("scheduler_monitor_jobrun", "sm_run_status_started_job", "1000000 500000 1 1 1"),
    ("scheduler_monitor_jobrun", "sm_run_started_id", "1000000 1 1"),
    ("scheduler_monitor_jobrun", "scheduler_monitor_jobrun_job_id_6a666d27", "1000000 1000"),
    ("scheduler_monitor_jobrun", "sm_run_recorded", "1000000 1"),
    ("scheduler_monitor_jobrun", "sm_run_job_started", "1000000 1000 1"),
]


def load_statistics(rows: list[tuple[str, str, str]]) -> None:
    """Replace the planner's statistics with ``rows`` (inside the test's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # creates sqlite_stat1 if it is missing
        cursor.execute("DELETE FROM sqlite_stat1")
        cursor.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (%s, %s, %s)", rows)
        cursor.execute("ANALYZE sqlite_schema")  # makes the planner reload them


def query_plan(sql: str) -> str:
    """SQLite's EXPLAIN QUERY PLAN of ``sql`` (parameters inlined), one line."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return " | ".join(row[-1] for row in cursor.fetchall())
