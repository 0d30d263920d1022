"""Patient-side messaging pages (being written)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    raise Http404
