"""Fixtures of the dashboard tests: users, the known data set, parsed pages."""

import pytest
from django.contrib.auth.models import Permission, User

from .dataset import build_dataset


@pytest.fixture
def staff_client(client, db):
    """A client logged in as a superuser (staff, every permission)."""
    user = User.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def viewer_client(client, db):
    """A client logged in as staff without the trigger/change permissions."""
    user = User.objects.create_user("viewer", "v@example.com", "pw-viewer-1", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def operator(db):
    """A staff user allowed to trigger, pause and resume jobs (not a superuser)."""
    user = User.objects.create_user("operator", "o@example.com", "pw-operator", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="scheduler_monitor",
            codename__in=["trigger_job", "change_jobdefinition"],
        )
    )
    return user


@pytest.fixture
def dataset(db):
    return build_dataset()
