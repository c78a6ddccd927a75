"""Prometheus scrape endpoints; the exposition is prometheus_client's own."""

import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder, gzip_accepted

from scheduler_monitor import conf, exposition_cache
from scheduler_monitor.metrics.auth import (
    MetricsAuthError,
    auth_error_response,
    check_metrics_access,
)


def exposition(request: HttpRequest, registry) -> HttpResponse:
    """Encode as the client's Accept asks (text 0.0.4 or OpenMetrics), gzip if accepted.

    ``registry``: what to export beside the scheduler families (None: nothing). The
    scheduler families come from exposition_cache: byte for byte the encoder's output,
    with unchanged jobs' lines reused, and the whole body (and its gzip) reused when
    nothing in it changed. Scrapers get the gzip as one member per segment (nothing to
    checksum again), other clients (curl, browsers) as one member.
    """
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = exposition_cache.scheduler_body(encoder=encoder)
    compress = gzip_accepted(request.headers.get("Accept-Encoding", ""))
    members = exposition_cache.reads_gzip_members(request.headers.get("Accept", ""))
    if registry is not None:
        segments = [exposition_cache.without_eof(encoder, encoder(registry)), *body.segments]
        segments.append(body.closing)
        content = b"".join(segments)
        if compress and members:
            content = exposition_cache.gzipped(segments)
        elif compress:
            content = exposition_cache.gzipped_whole(segments, content)
    elif not compress:
        content = body.text
    else:
        content = body.gzipped if members else body.gzipped_whole
    response = HttpResponse(content, content_type=content_type)
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
    return exposition(request, None)


@require_http_methods(["GET", "HEAD"])
def process_metrics(request: HttpRequest) -> HttpResponse:
    """The whole process (django-prometheus metrics) plus the scheduler families.

    It shows every job's id, name, owner and category, so it asks for the API's token
    unless the project opens it (``METRICS_PUBLIC``).
    """
    if not conf.metrics_public():
        try:
            check_metrics_access(request)
        except MetricsAuthError as exc:
            return auth_error_response(exc)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers: each one's values live in files; read them all, like
        # django-prometheus does, but keep our collector (it reads the shared database).
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)
        return exposition(request, workers)
    return exposition(request, REGISTRY)
