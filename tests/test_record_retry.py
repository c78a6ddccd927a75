"""A record the database refuses for its content never blocks the records behind it."""

import logging
import math
from dataclasses import replace

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from scheduler_monitor import record_retry
from scheduler_monitor.models import JobRun, RecordDegradation, RunStatus
from scheduler_monitor.recording import FinishedRun, get_recorder, record_measurement
from scheduler_monitor.scheduler_events import degraded_records_counts


class DatabaseDown:
    """Make every query on this thread's connection fail, as an unreachable server does."""

    def __call__(self, execute, sql, params, many, context):
        raise OperationalError("could not connect to server: Connection refused")


class RefuseRecordsWith:
    """Fail every statement carrying ``marker`` with an OperationalError, as a server limit
    (PostgreSQL's program_limit_exceeded is one) does; count the attempts."""

    def __init__(self, marker: str):
        self.marker = marker
        self.attempts = 0

    def __call__(self, execute, sql, params, many, context):
        if any(isinstance(p, str) and self.marker in p for p in params or ()):
            self.attempts += 1
            raise OperationalError("row is too big")
        return execute(sql, params, many, context)


def fail_with_nul():
    raise RuntimeError("bad byte \x00 in the message")


def test_a_nul_in_an_exception_message_is_stored_replaced(make_job, caplog):
    """PostgreSQL refuses NUL in text: the failure is stored with U+FFFD, nothing buffered."""
    job = make_job("nul_error")
    with caplog.at_level(logging.WARNING):
        get_recorder().execute("nul_error", fail_with_nul)
    assert len(get_recorder().buffer) == 0
    run = JobRun.objects.get(job=job)
    assert run.status == RunStatus.FAILURE
    assert "bad byte \ufffd in the message" in run.error
    assert "\x00" not in run.traceback
    job.refresh_from_db()
    assert job.failure_count == 1
    assert degraded_records_counts() == {"text_replaced": 1}
    assert "replaced characters the database cannot store" in caplog.text


def test_a_non_finite_measurement_is_dropped_with_a_warning(make_job, caplog):
    """nan and inf break the JSON column on both databases: they are dropped, the rest kept."""
    job = make_job("nan_measure")

    def work():
        record_measurement("gateway_ms", 12.5)
        record_measurement("ratio", float("nan"))
        record_measurement("rate", float("inf"))

    with caplog.at_level(logging.WARNING):
        get_recorder().execute("nan_measure", work)
    assert len(get_recorder().buffer) == 0
    run = JobRun.objects.get(job=job)
    assert (run.status, run.measurements) == (RunStatus.SUCCESS, {"gateway_ms": 12.5})
    assert degraded_records_counts() == {"measurement_dropped": 1}
    assert "dropped non-finite or non-numeric measurement(s) rate, ratio" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_good_records_buffered_behind_a_poisoned_one_are_all_written(make_job):
    """Poisoned records at the head of the buffer: the good ones behind are all written,
    each poisoned run stored as a minimal record and counted, none retried again."""
    job = make_job("mixed")
    recorder = get_recorder()
    recorder.execute("mixed", lambda: None)  # warm the job id cache
    now = timezone.now()
    base = FinishedRun(
        job_id="mixed", status=RunStatus.SUCCESS, started_at=now, finished_at=now, duration_ms=5.0
    )
    # Refused by the database for its content, whatever the sanitiser does: a pid no
    # integer column holds (PostgreSQL: DataError; SQLite: OverflowError in the driver).
    recorder.buffer.push(replace(base, pid=2**64, error="ValueError: too big a pid"))
    with connection.execute_wrapper(DatabaseDown()):
        # Repairable poison, buffered during the outage: nan and a NUL.
        recorder.save(replace(base, measurements={"x": math.nan}))
        recorder.save(replace(base, status=RunStatus.FAILURE, error="nul \x00 here"))
        for _ in range(3):
            recorder.execute("mixed", lambda: None)
    assert len(recorder.buffer) == 6
    assert recorder.flush() == 6
    assert len(recorder.buffer) == 0
    runs = JobRun.objects.filter(job=job)
    assert runs.count() == 7
    assert runs.filter(status=RunStatus.SUCCESS).count() == 6
    assert runs.filter(status=RunStatus.RUNNING).count() == 0
    minimal = runs.get(error__contains="the database refused this record")
    assert minimal.pid is None and minimal.error.startswith("ValueError\n")
    job.refresh_from_db()
    assert (job.success_count, job.failure_count) == (6, 1)
    assert degraded_records_counts() == {
        "rejected_by_database": 1,
        "measurement_dropped": 1,
        "text_replaced": 1,
    }


@pytest.mark.django_db(transaction=True)
def test_a_record_failing_while_the_database_takes_writes_is_tried_a_bounded_number_of_times(
    make_job,
):
    """An OperationalError that is the record's own (not an outage) is not retried forever."""
    job = make_job("limit")
    recorder = get_recorder()
    refuse = RefuseRecordsWith("huge-row")
    now = timezone.now()
    with connection.execute_wrapper(refuse):
        recorder.save(
            FinishedRun(
                job_id="limit",
                status=RunStatus.FAILURE,
                error="huge-row",
                started_at=now,
                finished_at=now,
                duration_ms=1.0,
            )
        )
        recorder.save(
            FinishedRun(
                job_id="limit",
                status=RunStatus.SUCCESS,
                started_at=now,
                finished_at=now,
                duration_ms=1.0,
            )
        )
        for _ in range(20):
            recorder.flush()
    assert len(recorder.buffer) == 0
    assert refuse.attempts == record_retry.MAX_ATTEMPTS
    assert sorted(JobRun.objects.filter(job=job).values_list("status", flat=True)) == [
        "failure",
        "success",
    ]
    assert RecordDegradation.objects.get().reason == "retries_exhausted"


def test_a_trigger_request_outcome_with_a_nul_in_its_error_is_stored(make_job):
    """The trigger write path follows the same rule: the outcome is stored, text replaced."""
    from scheduler_monitor.executors import _trigger_request_finish
    from scheduler_monitor.models import TriggerRequest, TriggerStatus

    request = TriggerRequest.objects.create(job=make_job("manual_nul"))
    failed = FinishedRun(
        job_id="manual_nul", status=RunStatus.FAILURE, error="RuntimeError: \x00 in the text"
    )
    _trigger_request_finish(request.pk, failed)
    request.refresh_from_db()
    assert request.status == TriggerStatus.FAILED
    assert request.error == "RuntimeError: \ufffd in the text"
