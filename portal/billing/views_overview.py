"""PLACEHOLDER: the overview helper replaces this module."""

from django.http import Http404, HttpRequest, HttpResponse


def statement(request: HttpRequest, statement_id: int) -> HttpResponse:
    raise Http404


def overview(request: HttpRequest) -> HttpResponse:
    raise Http404
