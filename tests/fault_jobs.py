"""Jobs of the fault-injection test: two steady ones, and one whose records are poisoned."""

import itertools

from scheduler_monitor.recording import record_measurement
from scheduler_monitor.registry import monitored_job

_poison = itertools.count()
# Each poisoned run's kind: (status it must be stored with, degraded reason it counts).
POISONS = (
    ("failure", "text_replaced"),  # a NUL in the exception message (PostgreSQL refuses it)
    ("success", "measurement_dropped"),  # nan: no JSON column stores it
    ("success", "measurement_dropped"),  # inf, under a name with a NUL in it
    ("failure", "text_replaced"),  # a lone surrogate: no UTF-8 encoder takes it
    ("failure", "text_replaced"),  # a 100 kB message ending in a NUL (truncated, kept)
)


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
