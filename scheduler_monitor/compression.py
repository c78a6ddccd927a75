"""gzip for the dashboard and the API, per view: host projects need no middleware for it.

Django's own GZipMiddleware, applied view by view (``gzip_page``): it compresses only when
the client accepts gzip and the body is worth it, adds ``Vary: Accept-Encoding``, and pads
with random bytes against BREACH. The dashboard's fragment set shrank ~10x with it.
"""

from django.urls import URLPattern, URLResolver
from django.views.decorators.gzip import gzip_page


def gzip_patterns(patterns: list) -> list:
    """Wrap every view of ``patterns`` (and of included resolvers' own lists) in gzip_page."""
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = gzip_page(pattern.callback)
        elif isinstance(pattern, URLResolver) and isinstance(pattern.urlconf_name, list):
            gzip_patterns(pattern.urlconf_name)
    return patterns
