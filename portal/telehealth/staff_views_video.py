"""Being built (issue 8): each helper replaces this module."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def today(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def waiting_fragment(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def visit(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def join(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def admit(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def end(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def complete(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def invite(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def withdraw_invite(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404

