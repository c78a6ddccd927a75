"""Monitoring for a scheduler the host builds itself: ``scheduler_monitor.instrument(scheduler)``.

    from apscheduler.schedulers.blocking import BlockingScheduler
    from django_apscheduler.jobstores import DjangoJobStore
    import scheduler_monitor

    scheduler = BlockingScheduler(timezone=settings.TIME_ZONE)
    scheduler.add_jobstore(DjangoJobStore(), "default")
    scheduler.add_job(my_job, "interval", minutes=5, id="my_job", replace_existing=True)
    scheduler_monitor.instrument(scheduler)   # before start()
    scheduler.start()

It gives that scheduler what ``manage.py runapscheduler`` has, by wrapping it in the same
``SchedulerProcess``: every run recorded (the executor), the declared ``@monitored_job``
jobs, a heartbeat, the single-active lease (a scheduler that finds the lease held starts
paused as a standby and resumes when it takes the lease over: safe for a
``BackgroundScheduler`` started in every web worker), trigger pick-up, missed and skipped
runs, and a clean stop (SIGTERM and Ctrl+C stop it; its stop is recorded; a second
signal exits at once; a ``BlockingScheduler`` whose jobs are still running after
SHUTDOWN_TIMEOUT has them recorded abandoned and exits with status 3). A scheduler
that loses the lease to another instance stops, as ``runapscheduler`` does.

Recorded are runs of thread-pool executors (the default); a job sent to a process-pool or
asyncio executor runs unrecorded (a warning says so at ``instrument``).
"""

import atexit
import logging
import signal
import threading

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler

from scheduler_monitor import conf
from scheduler_monitor.executors import ScheduledTimeExecutor
from scheduler_monitor.jobstores import make_resilient
from scheduler_monitor.scheduler import MANUAL_STORE, SchedulerProcess
from scheduler_monitor.scheduler_stop import EXIT_ABANDONED, hard_exit

logger = logging.getLogger(__name__)

_instrumented: dict[int, SchedulerProcess] = {}


def instrument(scheduler, *, handle_signals: bool = True) -> SchedulerProcess:
    """Add recording, heartbeat, lease, triggers and a clean stop to a host's scheduler.

    Call it once, before ``scheduler.start()``. With ``handle_signals`` (and in the main
    thread) SIGTERM and SIGINT stop the scheduler cleanly unless the host already handles
    them. Returns the ``SchedulerProcess`` that runs the monitoring.
    """
    if id(scheduler) in _instrumented:
        return _instrumented[id(scheduler)]
    if scheduler.state != STATE_STOPPED:
        raise RuntimeError("instrument(scheduler) must be called before scheduler.start()")
    _install_recording_executors(scheduler)
    for store in scheduler._jobstores.values():
        make_resilient(store)
    if MANUAL_STORE not in scheduler._jobstores:
        scheduler.add_jobstore(MemoryJobStore(), MANUAL_STORE)
    process = SchedulerProcess(scheduler)
    process.instrumented = True
    process.prepare()
    _wrap_start(scheduler, process)
    scheduler.add_listener(lambda event: _finish(process), EVENT_SCHEDULER_SHUTDOWN)
    # A process that ends without shutting its scheduler down still records its stop.
    atexit.register(process.finish_once)
    if handle_signals:
        _handle_signals(process)
    _instrumented[id(scheduler)] = process
    state = "active" if process.active else "standby (another scheduler holds the lease)"
    logger.info("Scheduler %s instrumented: %s", process.instance, state)
    return process


def _install_recording_executors(scheduler) -> None:
    """Make every thread-pool executor the recording one (its pool size kept)."""
    executors = scheduler._executors
    if "default" not in executors:
        scheduler.add_executor(ScheduledTimeExecutor(conf.get("EXECUTOR_THREADS")), "default")
    for alias, executor in executors.items():
        if isinstance(executor, ScheduledTimeExecutor):
            continue
        if type(executor) is ThreadPoolExecutor:
            executor.__class__ = ScheduledTimeExecutor
        else:
            logger.warning(
                "Executor %r (%s) is not a thread pool: runs of jobs sent to it are not recorded",
                alias,
                type(executor).__name__,
            )


def _wrap_start(scheduler, process: SchedulerProcess) -> None:
    """Start paused while standby, and start the monitoring thread with the scheduler."""
    start = scheduler.start

    def start_monitored(*args, paused: bool = False, **kwargs):
        process.start_maintenance()
        if not isinstance(scheduler, BlockingScheduler):
            return start(*args, paused=paused or not process.active, **kwargs)
        try:
            return start(*args, paused=paused or not process.active, **kwargs)
        finally:
            # start() returned: the scheduler stopped. Record it before the host's command
            # returns and the process ends (the monitoring thread is a daemon).
            process.finish_once()
            if process.unfinished_runs:
                # Job threads that never return would keep the interpreter alive forever:
                # exit as runapscheduler does, the abandoned runs recorded.
                logger.error(
                    "Scheduler stopped with %s job(s) still running; they were recorded as "
                    "abandoned. Exiting with status %s.",
                    process.unfinished_runs,
                    EXIT_ABANDONED,
                )
                hard_exit(EXIT_ABANDONED)

    scheduler.start = start_monitored


def _finish(process: SchedulerProcess) -> None:
    """Record the stop when the scheduler shuts down, in the thread that shut it down.

    That may be the monitoring thread itself (SIGTERM, a lost lease): finishing joins
    it, so then it runs in a thread of its own, not a daemon.
    """
    if threading.current_thread() is process.maintenance_thread:
        threading.Thread(target=process.finish_once, name="scheduler-monitor-stop").start()
    else:
        process.finish_once()


def _handle_signals(process: SchedulerProcess) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    defaults = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
    for signum, default in defaults.items():
        if signal.getsignal(signum) in (default, signal.SIG_DFL):
            signal.signal(signum, lambda signum, _: process.on_signal(signum))
