"""External binaries needed by some tests: skip without them, unless CI requires them."""

import os
import shutil
import sys
from pathlib import Path

import pytest


def require_binary(name: str) -> str:
    """Return the path of ``name`` (PATH or this venv); skip, or fail when CI requires it."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path:
        return path
    reason = f"{name} is not installed; this test needs the real {name}"
    if os.environ.get("SCHEDULER_MONITOR_REQUIRE_EXTERNAL") == "1":
        pytest.fail(f"{reason} (SCHEDULER_MONITOR_REQUIRE_EXTERNAL=1)")
    pytest.skip(reason)
