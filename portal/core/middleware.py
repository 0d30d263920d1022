from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

Handler = Callable[[HttpRequest], HttpResponse]


def no_store_middleware(get_response: Handler) -> Handler:
    """Forbid caching of every dynamic response unless a view chose otherwise.

    Nearly every page shows health or billing data, and a shared or back-button cache
    is how such data leaks; static files are served before this runs.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response

    return middleware
