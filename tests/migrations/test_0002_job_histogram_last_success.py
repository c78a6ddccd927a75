"""Migration 0002 fills the new histogram and last success from the runs already stored."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("scheduler_monitor", "0001_initial")]
AFTER = [("scheduler_monitor", "0002_job_histogram_last_success")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_it_backfills_buckets_and_last_success_from_stored_runs():
    """Runs recorded before the migration appear in the histogram and last_success_at."""
    apps = migrate(BEFORE)
    try:
        job_model = apps.get_model("scheduler_monitor", "JobDefinition")
        run_model = apps.get_model("scheduler_monitor", "JobRun")
        job = job_model.objects.create(job_id="old", name="Old", success_count=2, failure_count=1)
        idle = job_model.objects.create(job_id="idle", name="Idle")
        now = timezone.now()
        for minutes, status, duration in [
            (30, "success", 40),
            (20, "success", 700),
            (10, "failure", 20000),
            (5, "missed", None),
        ]:
            run_model.objects.create(
                job=job,
                status=status,
                duration_ms=duration,
                started_at=now - timedelta(minutes=minutes),
            )
        apps = migrate(AFTER)
        job_model = apps.get_model("scheduler_monitor", "JobDefinition")
        job = job_model.objects.get(job_id="old")
        assert job.duration_buckets["0.05"] == 1
        assert job.duration_buckets["1.0"] == 2
        assert job.duration_buckets["10.0"] == 2
        assert job.duration_buckets["+Inf"] == 3
        assert job.last_success_at == now - timedelta(minutes=20)
        idle = job_model.objects.get(pk=idle.pk)
        assert idle.duration_buckets == {} and idle.last_success_at is None
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
