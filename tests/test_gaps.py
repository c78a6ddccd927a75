"""Scheduled times that passed without a run are counted from the job's trigger."""

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler_monitor import gaps
from scheduler_monitor.models import JobRun, RunStatus

T0 = datetime(2026, 12, 4, 8, 0, 0, tzinfo=UTC)


def test_it_counts_interval_fire_times_in_a_half_open_span():
    trigger = IntervalTrigger(seconds=2, start_date=T0)
    assert gaps.fire_times_between(trigger, T0, T0 + timedelta(seconds=10)) == (
        5,
        T0 + timedelta(seconds=8),
    )
    assert gaps.fire_times_between(trigger, T0, T0 + timedelta(seconds=9)) == (
        5,
        T0 + timedelta(seconds=8),
    )
    assert gaps.fire_times_between(trigger, T0, T0) == (0, None)
    assert gaps.fire_times_between(trigger, None, T0) == (0, None)


def test_it_counts_cron_fire_times_by_walking_the_trigger():
    trigger = CronTrigger.from_crontab("*/15 * * * *", timezone=UTC)
    count, last = gaps.fire_times_between(trigger, T0, T0 + timedelta(hours=1, minutes=1))
    assert (count, last) == (5, T0 + timedelta(hours=1))


class DueJob:
    """What APScheduler hands the executor: the job with its first due time still set."""

    def __init__(self, job_id, trigger, next_run_time):
        self.id = job_id
        self.trigger = trigger
        self.next_run_time = next_run_time


def test_a_coalesced_submission_records_the_skipped_times_as_one_missed_run(make_job):
    """Due at 08:00:00 but run for 08:00:20 (coalesced): 20 times passed unrun."""
    job = make_job("every_second")
    trigger = IntervalTrigger(seconds=1, start_date=T0)
    recorder = gaps.GapRecorder()
    recorder.on_submit(DueJob("every_second", trigger, T0), [T0 + timedelta(seconds=20)])
    recorder.on_submit(
        DueJob("every_second", trigger, T0 + timedelta(seconds=21)),
        [T0 + timedelta(seconds=21)],
    )  # on time: no gap
    assert JobRun.objects.count() == 0  # found in the scheduler loop, stored later
    assert recorder.store_found() == 1
    run = JobRun.objects.get(job=job)
    assert run.status == RunStatus.MISSED
    assert run.scheduled_at == T0
    assert run.measurements == {
        "missed_fire_times": 20.0,
        "missed_until": (T0 + timedelta(seconds=19)).timestamp(),
    }
    assert "20 scheduled time(s) from 2026-12-04T08:00:00Z to 2026-12-04T08:00:19Z" in run.error
    job.refresh_from_db()
    assert job.missed_count == 1


def test_the_hourly_heatmap_shows_a_gap_in_the_hours_its_times_passed(make_job):
    """A gap of 90 one-minute times from 10:30 counts 30 in the 10:00 hour, 60 at 11:00."""
    from scheduler_monitor.heatmaps import failure_heatmap
    from scheduler_monitor.recording import get_recorder

    make_job("minutely", category="Gaps")
    first = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
    get_recorder().save(
        gaps.gap_record("minutely", first, first + timedelta(minutes=89), 90, "test")
    )
    get_recorder().record_unstarted("minutely", RunStatus.MISSED, first + timedelta(hours=2))
    heatmap = failure_heatmap(hours=4, now=datetime(2026, 12, 4, 13, 5, tzinfo=UTC))
    (row,) = [r for r in heatmap.rows if r.category == "Gaps"]
    assert [b.hour for b in heatmap.buckets] == [10, 11, 12, 13]
    assert row.counts == [30, 60, 1, 0]
    assert row.jobs == [{"job_id": "minutely", "job_name": row.jobs[0]["job_name"], "failures": 91}]
