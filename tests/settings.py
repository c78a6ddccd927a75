"""Settings of the test run: the demo project with a key that is only for tests.

DEBUG is off by default, and then the project refuses to start without SECRET_KEY. The key
goes into the environment, so the scheduler and web subprocesses the tests start get it too.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from project.settings import *  # noqa: E402, F403

# The web watch of a dead scheduler runs in a thread of its own, outside the test's
# transaction; tests that need it start a real web process (tests/test_scheduler_down_watch.py).
SCHEDULER_MONITOR = {**SCHEDULER_MONITOR, "WEB_SCHEDULER_DOWN_WATCH": False}  # noqa: F405
