"""Migration 0012 drops the index on job_id alone and keeps the (job, started_at) one."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("scheduler_monitor", "0009_scheduler_events")]
AFTER = [("scheduler_monitor", "0012_drop_redundant_run_job_index")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def run_indexes() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "scheduler_monitor_jobrun")
    return {
        name: info["columns"]
        for name, info in constraints.items()
        if info["index"] and not info["primary_key"]
    }


def test_it_drops_the_job_id_index_and_back_again():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("scheduler_monitor")
    try:
        migrate(BEFORE)
        assert ["job_id"] in run_indexes().values()
        migrate(AFTER)
        indexes = run_indexes()
        assert ["job_id"] not in indexes.values()
        assert indexes["sm_run_job_started"] == ["job_id", "started_at"]
        migrate(BEFORE)
        assert ["job_id"] in run_indexes().values()
    finally:
        migrate(latest)
    assert ["job_id"] not in run_indexes().values()
