"""The one OAuth token endpoint (/oauth/token/), shared by SMART apps and backend services.

A `client_credentials` request is a backend service with a signed JWT (`backend_auth.py`);
every other request goes to django-oauth-toolkit's token view unchanged (authorization
code and refresh token grants for SMART apps).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import TokenView

from portal.bulk import backend_auth

CLIENT_CREDENTIALS = "client_credentials"
# The portal offers no device flow, and the toolkit's device branch fails (500) on a
# request without a device_code, so that grant is refused here.
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"

_oauth_token = TokenView.as_view()


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        grant_type = request.POST.get("grant_type")
        if grant_type == CLIENT_CREDENTIALS:
            return backend_auth.token_response(request)
        if grant_type == DEVICE_CODE:
            response = JsonResponse({"error": "unsupported_grant_type"}, status=400)
            response["Cache-Control"] = "no-store"
            return response
    return _oauth_token(request)
