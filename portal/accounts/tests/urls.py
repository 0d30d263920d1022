"""The site's URLs plus two views guarded by `require_recent_auth`, for its tests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal.accounts.decorators import require_recent_auth
from portal.urls import urlpatterns as site_urlpatterns


@require_recent_auth
def download_everything(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"everything, {request.method}")


@require_recent_auth(allow_get=True)
def payment_methods(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"payment methods, {request.method} {request.POST.get('card', '')}")


urlpatterns = [
    path("test/everything/", download_everything, name="test_everything"),
    path("test/payment-methods/", payment_methods, name="test_payment_methods"),
    *site_urlpatterns,
]
