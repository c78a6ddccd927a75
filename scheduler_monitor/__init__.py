"""Record, aggregate and show every run of a Django project's scheduled jobs."""


def instrument(scheduler, **kwargs):
    """Monitor a scheduler the host builds itself; see ``scheduler_monitor.instrumentation``."""
    from scheduler_monitor.instrumentation import instrument as instrument_scheduler

    return instrument_scheduler(scheduler, **kwargs)
