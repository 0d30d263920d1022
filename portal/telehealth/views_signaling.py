"""Being built (issue 8): each helper replaces this module."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def poll(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def signal(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def chat(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404

