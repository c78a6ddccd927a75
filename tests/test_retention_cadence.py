"""A prune of ~96,000 runs while a real scheduler runs: scheduled starts stay on time.

On SQLite a writer holds the one write lock; a prune that deleted in long batches, back to
back, kept the scheduler's run writes waiting (up to 2.2 s late starts, issue 13). Before
the batches were bounded by time, this test measured starts up to 0.62 s late with the
default batch size and (the scenario below) several seconds with ``--batch-size 20000``.
"""

import subprocess
import time

import pytest
from django.utils import timezone

from scheduler_monitor.models import JobRun
from tests.cadence import TICKS, start_delays, summary
from tests.prunable_history import add_prunable_runs
from tests.subprocesses import start_manage, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RUNS = 96_000
# A batch size a user may well pass: batches are bounded by time, whatever their size.
BATCH_SIZE = 20_000
BEFORE = 15  # seconds of scheduled runs measured before the prune
LONGEST_DELAY = 0.75  # seconds; the ticks usually start within a few milliseconds


@pytest.fixture
def scheduler(tmp_path):
    log = tmp_path / "scheduler.log"
    process = start_manage(
        "runapscheduler", log_path=log, DJANGO_SETTINGS_MODULE="tests.cadence_settings"
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    print(log.read_text()[-3000:])  # shown when the test failed


def test_a_large_prune_leaves_scheduled_starts_on_time(scheduler, tmp_path):
    add_prunable_runs(RUNS, days=1)

    def ticking():
        assert scheduler.poll() is None, "the scheduler exited"
        return JobRun.objects.filter(job__job_id__in=TICKS).count() >= 3 * len(TICKS)

    wait_for(ticking, timeout=90)
    before_start = timezone.now()
    time.sleep(BEFORE)
    prune_start = timezone.now()
    prune = start_manage(
        "prune_job_runs", "--days=30", f"--batch-size={BATCH_SIZE}", log_path=tmp_path / "prune.log"
    )
    assert prune.wait(timeout=600) == 0, (tmp_path / "prune.log").read_text()
    prune_end = timezone.now()
    time.sleep(2)  # runs due at the very end of the prune start (or not) by now

    before = summary(start_delays(TICKS, since=before_start, until=prune_start))
    during = summary(start_delays(TICKS, since=prune_start, until=prune_end))
    took = (prune_end - prune_start).total_seconds()
    print(f"prune of {RUNS} runs took {took:.1f}s")
    print(f"  start delay before: {before}")
    print(f"  start delay during: {during}")
    assert not JobRun.objects.filter(job__job_id__startswith="history_").exists()
    assert during["runs"] >= 0.8 * len(TICKS) * took, during
    assert during["max"] <= LONGEST_DELAY, (before, during)
