"""Host-project jobs: plain functions added the django-apscheduler way, never declared."""

import time

calls = []


def cleanup_sessions(days=7):
    """Delete old sessions (a host job)."""
    calls.append(("cleanup_sessions", days))
    time.sleep(0.01)


def flaky_export():
    raise ValueError("export server said no")


def slow_host_job():
    time.sleep(1.5)
