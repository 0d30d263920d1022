"""PLACEHOLDER: the pay helper replaces this module."""

from django.http import Http404, HttpRequest, HttpResponse


def payment(request: HttpRequest, payment_id: int) -> HttpResponse:
    raise Http404
