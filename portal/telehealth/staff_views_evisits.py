"""Being built (issue 8): each helper replaces this module."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def queue(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def review(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def claim(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def reply(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def redirect_to_visit(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def photo(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404

