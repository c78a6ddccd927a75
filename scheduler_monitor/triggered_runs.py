"""Manual runs asked for through TriggerRequest rows, started by the active scheduler."""

import logging

from scheduler_monitor import discovery, job_control
from scheduler_monitor.executors import note_manual_run
from scheduler_monitor.manual_pool import MANUAL_EXECUTOR, claimable
from scheduler_monitor.models import RunTrigger
from scheduler_monitor.registry import registry

logger = logging.getLogger(__name__)


def start_triggered_runs(scheduler, manual_executor, *, run_job, jobstore: str) -> None:
    """Claim what the manual pool can start now and add each as a one-off job.

    ``run_job`` runs a declared job by id (the scheduler's ``run_monitored_job``); a host's
    own job runs once more with its own callable and arguments.
    """
    # Claim only what the manual pool can start now; the rest waits in the database.
    free = claimable(scheduler, manual_executor, jobstore=jobstore)
    if not free:
        return
    for request in job_control.trigger_requests_claim(limit=free):
        job_id = request.job.job_id
        options = {
            "trigger": "date",
            "id": f"manual-{request.pk}",
            "name": f"{request.job.name} (manual)",
            "jobstore": jobstore,
            "executor": MANUAL_EXECUTOR,
            "misfire_grace_time": None,
        }
        if registry.get(job_id) is not None:
            scheduler.add_job(
                run_job,
                args=[job_id, RunTrigger.MANUAL, request.pk],
                kwargs={"params": request.params} if request.params else {},
                **options,
            )
            continue
        host_job = discovery.host_job(scheduler, job_id, skip=jobstore)
        if host_job is None:
            job_control.trigger_request_finish(
                request_id=request.pk,
                succeeded=False,
                error="The job is neither declared nor in the scheduler",
            )
            continue
        # The host's job, run once more with its own callable and arguments.
        note_manual_run(options["id"], job_id, request.pk)
        scheduler.add_job(host_job.func, args=host_job.args, kwargs=host_job.kwargs, **options)
