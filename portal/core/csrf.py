from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form was sent without a valid security token, usually from a stale page."""
    context = {
        "title": _("Your form expired"),
        "message": _(
            "For your security, forms stop working after a while. Go back, reload the page and try again."
        ),
        "status": 403,
    }
    return render(request, "core/error.html", context, status=403)
