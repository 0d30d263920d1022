"""Being built (issue 8): each helper replaces this module."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def evisit_list(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def choose_condition(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def questionnaire(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def evisit_detail(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def add_photo(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def photo(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def remove_photo(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def submit(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404


def withdraw(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404

