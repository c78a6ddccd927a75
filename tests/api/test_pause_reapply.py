"""job_control.job_pauses_reapply: a running scheduler's write-back cannot undo a pause."""

from datetime import UTC, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob

from scheduler_monitor import job_control
from scheduler_monitor.models import JobDefinition


@pytest.fixture
def running_scheduler(transactional_db):
    """A started (but not executing) scheduler on django-apscheduler's store."""
    scheduler = BackgroundScheduler(jobstores={"default": DjangoJobStore()}, timezone=UTC)
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


def test_it_pauses_again_a_job_the_scheduler_wrote_back(running_scheduler, make_job):
    """A paused job whose stored next run time came back is paused again; others untouched."""
    make_job("p")
    make_job("free")
    for job_id in ("p", "free"):
        running_scheduler.add_job(
            print, "interval", seconds=60, id=job_id, jobstore="default", replace_existing=True
        )
    job_control.job_pause(job_id="p")
    # What the scheduler thread does when it was mid-way through running "p": write it back.
    stored = DjangoJobStore().lookup_job("p")
    stored.next_run_time = timezone.now() + timedelta(seconds=60)
    DjangoJobStore().update_job(stored)
    assert DjangoJob.objects.get(id="p").next_run_time is not None

    assert job_control.job_pauses_reapply(scheduler=running_scheduler) == ["p"]
    assert DjangoJob.objects.get(id="p").next_run_time is None
    assert DjangoJob.objects.get(id="free").next_run_time is not None
    assert JobDefinition.objects.get(job_id="p").paused is True
    assert job_control.job_pauses_reapply(scheduler=running_scheduler) == []
