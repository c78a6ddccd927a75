"""The poisons of the fault-injection test's poisoned job (no job declared here)."""

# Each poisoned run's kind: (status it must be stored with, degraded reason it counts).
POISONS = (
    ("failure", "text_replaced"),  # a NUL in the exception message (PostgreSQL refuses it)
    ("success", "measurement_dropped"),  # nan: no JSON column stores it
    ("success", "measurement_dropped"),  # inf, under a name with a NUL in it
    ("failure", "text_replaced"),  # a lone surrogate: no UTF-8 encoder takes it
    ("failure", "text_replaced"),  # a 100 kB message ending in a NUL (truncated, kept)
)
