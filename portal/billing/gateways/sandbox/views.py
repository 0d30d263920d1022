"""PLACEHOLDER: the pay helper replaces this module."""

from django.http import Http404, HttpRequest, HttpResponse


def tokens(request: HttpRequest) -> HttpResponse:
    raise Http404


def authenticate(request: HttpRequest, reference: str) -> HttpResponse:
    raise Http404
