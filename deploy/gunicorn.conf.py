"""gunicorn settings for serving the project with several workers and Prometheus metrics.

With ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory, emptied at each start), every
worker writes its metric values there and ``/metrics`` reads them all back.
"""

import os

from prometheus_client import multiprocess

worker_class = "sync"
timeout = 30


def child_exit(server, worker):
    """Forget a dead worker's live gauges (its counters stay, as Prometheus expects)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
