"""Simultaneous triggers of one job: exactly one is queued, the others get 409."""

import threading

import pytest
from django.db import connection

from scheduler_monitor.models import TriggerRequest
from tests.api.helpers import TRIGGER, VIEW

THREADS = 6


@pytest.mark.slow
def test_it_queues_one_request_when_triggered_at_once(transactional_db, make_job, token_client):
    """The job row lock makes the busy check and the insert one step."""
    make_job("contended")
    clients = [token_client(VIEW, TRIGGER) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    statuses = []

    def trigger(client):
        try:
            barrier.wait(timeout=10)
            statuses.append(client.post("/api/v1/scheduler/jobs/contended/trigger").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [202] + [409] * (THREADS - 1)
    assert TriggerRequest.objects.filter(job__job_id="contended").count() == 1
