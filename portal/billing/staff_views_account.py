"""PLACEHOLDER: the staff helper replaces this module."""

from django.http import Http404, HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    raise Http404
