"""The write path: every run stored with its outcome, counters exact, nothing lost."""

import threading
import time

import pytest
from django.db import OperationalError, connection

from scheduler_monitor import recording
from scheduler_monitor.models import JobDefinition, JobRun, RunStatus, RunTrigger
from scheduler_monitor.recording import FinishedRun, get_recorder, record_measurement, truncate
from scheduler_monitor.window import get_window


class DatabaseDown:
    """Make every query on this thread's connection fail, as an unreachable server does."""

    def __init__(self):
        self.refused = 0

    def __call__(self, execute, sql, params, many, context):
        self.refused += 1
        raise OperationalError("could not connect to server: Connection refused")


def test_it_records_a_success_with_its_measured_duration(make_job):
    """A successful run's duration is within a few ms of what it slept."""
    job = make_job("sleeper")
    slept = []

    def sleeper():
        t0 = time.perf_counter()
        time.sleep(0.2)
        slept.append((time.perf_counter() - t0) * 1000)

    record = get_recorder().execute("sleeper", sleeper)
    run = JobRun.objects.get()
    assert run.status == RunStatus.SUCCESS
    assert run.trigger == RunTrigger.SCHEDULED
    # Against the job's own clock, not a fixed bound a loaded machine would break.
    assert slept[0] >= 200
    assert slept[0] <= run.duration_ms < slept[0] + 5
    assert run.duration_ms == pytest.approx(record.duration_ms)
    assert run.started_at <= run.finished_at
    assert run.pid is not None and run.hostname
    job.refresh_from_db()
    assert (job.success_count, job.failure_count) == (1, 0)
    assert job.last_status == RunStatus.SUCCESS
    assert job.last_duration_ms == pytest.approx(run.duration_ms)
    assert job.duration_sum_ms == pytest.approx(run.duration_ms)
    assert job.last_run_at == run.started_at


def test_it_records_a_failure_with_error_and_traceback(make_job):
    job = make_job("breaks")

    def breaks():
        raise ValueError("gateway said no")

    get_recorder().execute("breaks", breaks)
    run = JobRun.objects.get()
    assert run.status == RunStatus.FAILURE
    assert run.error == "ValueError: gateway said no"
    assert "Traceback (most recent call last)" in run.traceback
    assert "in breaks" in run.traceback
    job.refresh_from_db()
    assert (job.success_count, job.failure_count) == (0, 1)
    assert job.last_status == RunStatus.FAILURE
    assert job.last_error == "ValueError: gateway said no"


def test_it_truncates_a_one_megabyte_error_and_stores_it(make_job, settings):
    """A huge exception message is cut to the configured limits, head and tail kept."""
    settings.SCHEDULER_MONITOR = {"ERROR_TEXT_LIMIT": 2000, "TRACEBACK_LIMIT": 5000}
    make_job("huge")
    message = "A" * 500_000 + "B" * 500_000

    def huge():
        raise RuntimeError(message)

    get_recorder().execute("huge", huge)
    run = JobRun.objects.get()
    assert len(run.error) == 2000
    assert run.error.startswith("RuntimeError: AAAA")
    assert run.error.endswith("BBBB")
    assert "characters truncated" in run.error
    assert len(run.traceback) == 5000
    assert run.traceback.startswith("Traceback")


def test_truncate_keeps_short_text_whole():
    assert truncate("short", 10) == "short"
    cut = truncate("x" * 100, 60)
    assert len(cut) == 60 and "40 characters truncated" in cut


def test_it_stores_measurements_the_job_attached(make_job):
    make_job("notifier")
    get_recorder().execute("notifier", lambda: record_measurement("gateway_response_ms", 123.5))
    assert JobRun.objects.get().measurements == {"gateway_response_ms": 123.5}


def test_record_measurement_outside_a_run_is_an_error():
    with pytest.raises(RuntimeError, match="outside a monitored job run"):
        record_measurement("x", 1)


def test_it_creates_the_job_row_for_an_undeclared_job(db):
    """Recording never fails for lack of a JobDefinition: one is created."""
    get_recorder().execute("ad_hoc", lambda: None)
    job = JobDefinition.objects.get(job_id="ad_hoc")
    assert job.success_count == 1


def test_it_feeds_this_process_window(make_job):
    make_job("fed")
    for delay in (0.0, 0.01, 0.02):
        get_recorder().execute("fed", lambda d=delay: time.sleep(d))
    stats = get_window().get_statistics("fed")
    assert stats.sample_count == 3
    assert stats.max_duration_ms >= 20


def test_it_runs_the_job_and_writes_the_record_after_the_database_comes_back(make_job):
    """With the database down while the run finishes, the record waits and is written later."""
    job = make_job("resilient")
    recorder = get_recorder()
    down = DatabaseDown()
    ran = []

    def work():
        ran.append(True)
        # The database goes away while the job runs.
        connection.execute_wrappers.append(down)

    try:
        recorder.execute("resilient", work)
    finally:
        connection.execute_wrappers.remove(down)
    assert ran == [True]
    assert down.refused >= 1
    assert len(recorder.buffer) == 1
    assert JobRun.objects.get().status == RunStatus.RUNNING  # inserted before the outage

    assert recorder.flush() == 1
    assert len(recorder.buffer) == 0
    run = JobRun.objects.get()
    assert run.status == RunStatus.SUCCESS
    assert run.recorded_at is not None
    job.refresh_from_db()
    assert job.success_count == 1


@pytest.mark.django_db(transaction=True)
def test_it_keeps_runs_recorded_during_a_whole_outage():
    """Runs that start and finish while the database is down are all written afterwards."""
    job = JobDefinition.objects.create(job_id="outage", name="outage")
    recorder = get_recorder()
    recorder.execute("outage", lambda: None)  # warms the job id cache, then the outage
    JobRun.objects.all().delete()
    JobDefinition.objects.filter(pk=job.pk).update(success_count=0)
    down = DatabaseDown()
    for _ in range(3):
        # Each failed attempt closes the connection; the next one is a new connection.
        with connection.execute_wrapper(down):
            recorder.execute("outage", lambda: None)
    with connection.execute_wrapper(down):
        recorder.execute("outage", lambda: 1 / 0)
    assert len(recorder.buffer) == 4
    assert JobRun.objects.count() == 0
    recorder.execute("outage", lambda: None)  # the next run flushes the buffer first
    assert len(recorder.buffer) == 0
    assert JobRun.objects.filter(status=RunStatus.SUCCESS).count() == 4
    assert JobRun.objects.filter(status=RunStatus.FAILURE).count() == 1
    job.refresh_from_db()
    assert (job.success_count, job.failure_count) == (4, 1)


def test_it_counts_dropped_records_when_the_buffer_overflows(make_job, settings):
    settings.SCHEDULER_MONITOR = {"RECORD_BUFFER_SIZE": 2}
    from scheduler_monitor.recording import reset_recorder

    recorder = reset_recorder()
    make_job("overflow")
    with connection.execute_wrapper(DatabaseDown()):
        for _ in range(3):
            recorder.execute("overflow", lambda: None)
    assert len(recorder.buffer) == 2
    assert recorder.buffer.dropped == 1


def test_a_retried_write_of_a_finished_run_counts_once(make_job):
    """Writing the same finished record twice (a retry) never counts it twice."""
    job = make_job("once")
    record = get_recorder().execute("once", lambda: None)
    run_id = JobRun.objects.get().pk
    from dataclasses import replace

    assert get_recorder().write(replace(record, run_id=run_id)) is None
    job.refresh_from_db()
    assert job.success_count == 1


def test_it_records_missed_and_skipped_runs_apart_from_executions(make_job):
    job = make_job("late")
    recorder = get_recorder()
    recorder.record_unstarted("late", RunStatus.MISSED, None)
    recorder.record_unstarted("late", RunStatus.SKIPPED, None)
    job.refresh_from_db()
    assert (job.missed_count, job.skipped_count) == (1, 1)
    assert (job.success_count, job.failure_count, job.last_status) == (0, 0, "")
    assert set(JobRun.objects.values_list("status", flat=True)) == {"missed", "skipped"}


@pytest.mark.django_db(transaction=True)
def test_eight_threads_recording_ten_thousand_runs_leave_exact_counters_and_windows():
    """Concurrent recording loses nothing: counters, rows and windows all add up."""
    JobDefinition.objects.create(job_id="t_even", name="even")
    JobDefinition.objects.create(job_id="t_odd", name="odd")
    recorder = get_recorder()
    per_thread = 1250

    def work(thread_no):
        job_id = "t_even" if thread_no % 2 == 0 else "t_odd"
        for i in range(per_thread):
            status = RunStatus.FAILURE if i % 10 == 0 else RunStatus.SUCCESS
            recorder.write(
                FinishedRun(job_id=job_id, status=status, duration_ms=float(i), error="")
            )
        connection.close()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(recorder.buffer) == 0
    for job_id in ("t_even", "t_odd"):
        job = JobDefinition.objects.get(job_id=job_id)
        assert job.failure_count == 4 * per_thread // 10
        assert job.success_count == 4 * per_thread - job.failure_count
        assert job.duration_sum_ms == 4 * sum(range(per_thread))
        assert JobRun.objects.filter(job=job).count() == 4 * per_thread
        stats = get_window().get_statistics(job_id)
        assert stats.sample_count == 1000


@pytest.mark.django_db(transaction=True)
def test_back_to_back_runs_reuse_the_connection_and_an_idle_thread_checks_it(monkeypatch):
    """Checking the connection costs a round trip; it is done after a pause, not per run."""
    JobDefinition.objects.create(job_id="busy", name="Busy")
    clock = [1000.0]
    checks = []
    monkeypatch.setattr(recording, "monotonic", lambda: clock[0])
    monkeypatch.setattr(recording, "close_old_connections", lambda: checks.append(clock[0]))
    monkeypatch.setattr(recording, "_thread_state", threading.local())
    recorder = get_recorder()
    recorder.execute("busy", lambda: None)  # the thread's first run: checked
    clock[0] += 0.5
    recorder.execute("busy", lambda: None)  # half a second later: reused as it is
    clock[0] += recording.CONNECTION_RECHECK_AFTER_SECONDS + 0.1
    recorder.execute("busy", lambda: None)  # after a pause: checked again
    assert checks == [1000.0, 1000.0 + 0.5 + recording.CONNECTION_RECHECK_AFTER_SECONDS + 0.1]
    assert JobRun.objects.filter(status=RunStatus.SUCCESS).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_had_an_error_is_checked_before_the_next_run(monkeypatch):
    JobDefinition.objects.create(job_id="shaky", name="Shaky")
    checks = []
    monkeypatch.setattr(recording, "monotonic", lambda: 1000.0)
    monkeypatch.setattr(recording, "close_old_connections", lambda: checks.append(True))
    monkeypatch.setattr(recording, "_thread_state", threading.local())
    recorder = get_recorder()
    recorder.execute("shaky", lambda: None)
    connection.errors_occurred = True
    try:
        recorder.execute("shaky", lambda: None)
    finally:
        connection.errors_occurred = False
    assert checks == [True, True]
