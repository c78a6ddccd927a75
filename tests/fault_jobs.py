"""Jobs of the fault-injection test: two steady ones, and one whose records are poisoned."""

import itertools

from scheduler_monitor.recording import record_measurement
from scheduler_monitor.registry import monitored_job
from tests.fault_poisons import POISONS

_poison = itertools.count()


@monitored_job("steady_ok", name="Steady OK", category="Faults", seconds=1)
def steady_ok():
    """Succeed every second."""


@monitored_job("steady_fail", name="Steady fail", category="Faults", seconds=1)
def steady_fail():
    raise RuntimeError("steady_fail always fails")


@monitored_job("poisoned", name="Poisoned", category="Faults", seconds=1)
def poisoned():
    """Produce a record the database would refuse, a different way each run."""
    kind = next(_poison) % len(POISONS)
    record_measurement("kind", kind)
    if kind == 0:
        raise RuntimeError("NUL \x00 in the message")
    if kind == 1:
        record_measurement("ratio", float("nan"))
    elif kind == 2:
        record_measurement("bad\x00name", float("inf"))
    elif kind == 3:
        raise ValueError("lone surrogate \ud800 here")
    elif kind == 4:
        raise RuntimeError("x" * 100_000 + "\x00")
