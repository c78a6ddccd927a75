"""API fixtures: users with given permissions, token and session clients, stored jobs."""

from datetime import UTC, timedelta

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_apscheduler.jobstores import DjangoJobStore
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler_monitor.scheduler import run_monitored_job
from tests.api.helpers import CHANGE, TRIGGER, VIEW


@pytest.fixture
def make_user(db):
    """Create a user holding the given scheduler_monitor permission codenames."""

    def make(username, *codenames, is_staff=False, is_superuser=False) -> User:
        user = User.objects.create_user(
            username, password=None, is_staff=is_staff, is_superuser=is_superuser
        )
        for codename in codenames:
            user.user_permissions.add(
                Permission.objects.get(
                    codename=codename, content_type__app_label="scheduler_monitor"
                )
            )
        return user

    return make


@pytest.fixture
def token_client(make_user):
    """A client sending ``Authorization: Bearer <token>`` of a new user with those permissions."""
    counter = iter(range(1, 10_000))

    def make(*codenames, keyword="Bearer") -> APIClient:
        user = make_user(f"token-user-{next(counter)}", *codenames)
        token = Token.objects.create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token.key}")
        client.user = user
        return client

    return make


@pytest.fixture
def reader(token_client):
    return token_client(VIEW)


@pytest.fixture
def writer(token_client):
    return token_client(VIEW, TRIGGER, CHANGE)


@pytest.fixture
def session_client(make_user):
    """A logged-in session client that enforces CSRF and sends the token on writes."""

    def make(user) -> APIClient:
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        # What a browser holds after any admin page: the CSRF cookie, echoed in a header.
        client.csrf_token = get_random_string(32)
        client.cookies[settings.CSRF_COOKIE_NAME] = client.csrf_token
        client.user = user
        return client

    return make


@pytest.fixture
def store_job(db):
    """Put a job into django-apscheduler's store the way the scheduler process does."""
    scheduler = BlockingScheduler(timezone=UTC)
    store = DjangoJobStore()

    def add(job_id: str, *, seconds: int = 60, paused: bool = False) -> Job:
        trigger = IntervalTrigger(seconds=seconds, timezone=UTC)
        next_run = None if paused else timezone.now() + timedelta(seconds=seconds)
        job = Job(
            scheduler,
            id=job_id,
            func=run_monitored_job,
            args=[job_id],
            kwargs={},
            trigger=trigger,
            executor="default",
            name=job_id,
            misfire_grace_time=30,
            coalesce=True,
            max_instances=1,
            next_run_time=next_run,
        )
        store.add_job(job)
        return job

    add.store = store
    return add
