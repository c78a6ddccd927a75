"""A schedule changed through the API reaches the running scheduler, survives a restart, resets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler_monitor.models import JobRun
from tests.api.helpers import data_of, error_of
from tests.subprocesses import wait_for

P = "/api/v1/scheduler"
NEW_INTERVAL = 4.0
TOLERANCE = 0.8  # seconds: the loaded CI machine starts a run a little late at times


def ticks_after(moment):
    return list(
        JobRun.objects.filter(job__job_id="jc_tick", started_at__gt=moment)
        .order_by("started_at")
        .values_list("started_at", flat=True)
    )


def gaps(times) -> list[float]:
    return [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]


def wait_for_ticks(after, count: int, timeout: float):
    return wait_for(lambda: (t := ticks_after(after)) and len(t) >= count and t, timeout=timeout)


@pytest.mark.slow
def test_a_changed_interval_applies_within_seconds_survives_restart_and_resets(scheduler, api):
    scheduler.start()
    start = timezone.now()
    before = wait_for_ticks(start, 3, timeout=20)
    assert all(g < 1 + TOLERANCE for g in gaps(before))

    # A bad cron changes nothing.
    payload = error_of(api.patch(f"{P}/jobs/jc_tick", {"cron": "*/0 * * *"}, format="json"), 400)
    assert payload["data"]["field"] == "cron"

    changed_at = timezone.now()
    data = data_of(api.patch(f"{P}/jobs/jc_tick", {"seconds": NEW_INTERVAL}, format="json"))
    assert data["schedule"] == "every 4s" and data["declared_schedule"] == "every 1s"
    # Applied within one maintenance step (0.5 s here, at most 10 s allowed): after the
    # first 10 s, no more 1 s cadence; four runs in a row NEW_INTERVAL apart.
    applied = changed_at + timedelta(seconds=10)
    new = wait_for_ticks(applied, 4, timeout=40)[:4]
    assert all(abs(g - NEW_INTERVAL) < TOLERANCE for g in gaps(new)), gaps(new)
    transition = [t for t in ticks_after(changed_at) if t <= applied]
    assert len(transition) <= 10 / NEW_INTERVAL + 2, transition  # at 1 s it would be ~10
    first_slow = next(
        b
        for a, b in zip(ticks_after(changed_at), ticks_after(changed_at)[1:], strict=False)
        if (b - a).total_seconds() > NEW_INTERVAL - TOLERANCE
    )
    assert first_slow - changed_at < timedelta(seconds=10)

    # A restart keeps the override (the declaration sync applies it, not the declared 1 s).
    scheduler.stop()
    restarted = timezone.now()
    scheduler.start()
    after_restart = wait_for_ticks(restarted, 4, timeout=40)[:4]
    assert all(abs(g - NEW_INTERVAL) < TOLERANCE for g in gaps(after_restart)), gaps(after_restart)

    # Reset: back to the declared 1 s.
    reset_at = timezone.now()
    data = data_of(api.post(f"{P}/jobs/jc_tick/schedule/reset"))
    assert (data["schedule"], data["overridden"]) == ("every 1s", False)
    fast = wait_for_ticks(reset_at + timedelta(seconds=NEW_INTERVAL + 1), 4, timeout=30)[:4]
    assert all(g < 1 + TOLERANCE for g in gaps(fast)), gaps(fast)
