"""Prometheus scrape endpoints; the exposition is prometheus_client's own."""

import gzip
import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder, gzip_accepted

from scheduler_monitor import conf
from scheduler_monitor.exposition import SchedulerCollector
from scheduler_monitor.metrics.auth import (
    MetricsAuthError,
    auth_error_response,
    check_metrics_access,
)


class CombinedRegistry:
    """Collect several registries/collectors as one, without registering anything globally."""

    def __init__(self, *sources):
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source.collect()


def exposition(request: HttpRequest, registry) -> HttpResponse:
    """Encode as the client's Accept asks (text 0.0.4 or OpenMetrics), gzip if accepted."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    output = encoder(registry)
    compress = gzip_accepted(request.headers.get("Accept-Encoding", ""))
    response = HttpResponse(
        gzip.compress(output) if compress else output, content_type=content_type
    )
    if compress:
        response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept, Accept-Encoding"
    return response


@require_http_methods(["GET", "HEAD"])
def scheduler_metrics(request: HttpRequest) -> HttpResponse:
    """Only the scheduler families; token or staff session required."""
    try:
        check_metrics_access(request)
    except MetricsAuthError as exc:
        return auth_error_response(exc)
    return exposition(request, SchedulerCollector())


@require_http_methods(["GET", "HEAD"])
def process_metrics(request: HttpRequest) -> HttpResponse:
    """The whole process (django-prometheus metrics) plus the scheduler families."""
    if conf.get("METRICS_REQUIRE_TOKEN"):
        try:
            check_metrics_access(request)
        except MetricsAuthError as exc:
            return auth_error_response(exc)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers: each one's values live in files; read them all, like
        # django-prometheus does, but keep our collector (it reads the shared database).
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)
        return exposition(request, CombinedRegistry(workers, SchedulerCollector()))
    return exposition(request, CombinedRegistry(REGISTRY, SchedulerCollector()))
