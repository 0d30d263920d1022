"""Developers: register an app for the clinic to approve, follow its status, get its credentials.

Any signed-in person may register an app; what they see here is only their own
registrations. A confidential client's secret is stored hashed, so it is shown once,
on the response that makes it, and never again.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.smart.actions import AppRefused, do_register_app, do_rotate_secret
from portal.smart.forms import RegistrationForm
from portal.smart.models import AppRegistration

MAX_LISTED = 100


def _mine(request: HttpRequest) -> list[AppRegistration]:
    return list(
        AppRegistration.objects.filter(developer=signed_in_user(request))
        .select_related("application")
        .order_by("-created_at", "-id")[:MAX_LISTED]
    )


@login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """The register form and the developer's registrations."""
    form = RegistrationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        do_register_app(Actor.from_request(request), **form.action_fields())
        return redirect("developers:home")
    status = 400 if form.is_bound else 200
    return render(
        request, "smart/developers/home.html", {"form": form, "registrations": _mine(request)}, status=status
    )


@never_cache
@login_required
@require_POST
def new_secret(request: HttpRequest, registration_id: int) -> HttpResponse:
    """Make a new client secret (the old one stops working) and show it this once."""
    registration = AppRegistration.objects.filter(
        pk=registration_id, developer=signed_in_user(request)
    ).first()
    if registration is None:
        raise Http404
    try:
        secret = do_rotate_secret(Actor.from_request(request), registration)
    except AppRefused as refusal:
        return render(
            request,
            "smart/developers/home.html",
            {"form": RegistrationForm(), "registrations": _mine(request), "refusal": str(refusal)},
            status=409,
        )
    context = {"registration": registration, "secret": secret, "title": _("Your new client secret")}
    return render(request, "smart/developers/secret.html", context)
