"""Tests that need an external program skip without it, unless CI says it must be there."""

import os
import shutil

import pytest


def required() -> bool:
    return os.environ.get("SCHEDULER_MONITOR_REQUIRE_EXTERNAL") == "1"


def require_binary(name: str) -> str:
    """Return the path of ``name``; skip the test if missing (fail when CI requires it)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (needed by this test)"
        if required():
            pytest.fail(f"{message}; SCHEDULER_MONITOR_REQUIRE_EXTERNAL=1", pytrace=False)
        pytest.skip(message)
    return path
