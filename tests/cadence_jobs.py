"""Jobs of the cadence tests: fast scheduled ticks, slow manual-only jobs, a settings switch.

The ticks run every second and take ~10 ms: their start delay (started_at - scheduled_at)
is the scheduler's own latency, which a trigger flood or a prune must not stretch.
"""

import time

from scheduler_monitor.registry import monitored_job
from tests.cadence import MANUAL, TICKS


def _tick():
    time.sleep(0.01)


def _slow():
    time.sleep(2)


for _job_id in TICKS:
    monitored_job(_job_id, name=_job_id, owner="Tests", category="Cadence", seconds=1)(_tick)
for _job_id in MANUAL:
    # Hourly, so only the tests' triggers run them.
    monitored_job(_job_id, name=_job_id, owner="Tests", category="Manual", seconds=3600)(_slow)
