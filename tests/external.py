"""Skip (or, in CI, fail) a test whose external program is missing."""

import os
import shutil

import pytest


def require_binary(name: str) -> str:
    """Return the path of ``name``; skip without it, or fail when CI demands every part."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (Debian package provides it; .ci/run installs it)"
    if os.environ.get("SCHEDULER_MONITOR_REQUIRE_EXTERNAL") == "1":
        pytest.fail(message)
    pytest.skip(message)
