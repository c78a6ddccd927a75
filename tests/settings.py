"""Settings of the test run: the demo project with a key that is only for tests.

DEBUG is off by default, and then the project refuses to start without SECRET_KEY. The key
goes into the environment, so the scheduler and web subprocesses the tests start get it too.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from project.settings import *  # noqa: E402, F403
