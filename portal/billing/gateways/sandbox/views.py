"""The sandbox gateway's own endpoints, standing in for what a real processor hosts.

`tokens` is where the sandbox's card form in the browser (`sandbox-card.js`) sends the
card: the number goes here, never to the portal's own pages, and a token comes back.
`authenticate` is the sandbox's test bank: it asks the payer to confirm a payment (as
3-D Secure would) and sends them back to the portal. Only the payer may answer.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.billing.gateways.base import ChargeStatus
from portal.billing.gateways.sandbox import cards
from portal.billing.gateways.sandbox.gateway import SandboxGateway
from portal.billing.models import Payment, SandboxCharge

# Years a card may expire in: also keeps the value inside the token's small-integer column.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


class BadCard(ValueError):
    """The posted card details are not even shaped like a card."""


@require_POST
def tokens(request: HttpRequest) -> HttpResponse:
    """POST JSON {number, exp_month, exp_year, cvc, reusable?} -> {token, brand, last4, funding} or {error}."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": _("Sign in to pay by card.")}, status=401)
    try:
        number, exp_month, exp_year, cvc, reusable = _card(request)
        token = cards.tokenise(number, exp_month, exp_year, cvc, reusable=reusable)
    except (BadCard, cards.CardRejected) as error:
        return JsonResponse({"error": _(str(error))}, status=400)
    return JsonResponse(
        {"token": token.token, "brand": token.brand, "last4": token.last4, "funding": token.funding}
    )


def _card(request: HttpRequest) -> tuple[str, int, int, str, bool]:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadCard(_("Enter your card details.")) from error
    if not isinstance(body, dict):
        raise BadCard(_("Enter your card details."))
    number = _text(body.get("number"), 30)
    cvc = _text(body.get("cvc"), 4)
    if not number:
        raise BadCard(_("Enter the card number."))
    month, year = _whole(body.get("exp_month")), _whole(body.get("exp_year"))
    if month is None or year is None:
        raise BadCard(_("Enter the expiry month and year, as numbers."))
    year = cards.expiry_year(year) if 0 <= year < 100 else year
    if not (1 <= month <= 12 and EARLIEST_YEAR <= year <= LATEST_YEAR):
        raise BadCard(_("The expiry date is not valid."))
    if not cvc:
        raise BadCard(_("Enter the security code."))
    return number, month, year, cvc, body.get("reusable") is True


def _text(value: Any, longest: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > longest:
        return ""
    return value.strip()


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -1 < value < 10_000 else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
        return int(value.strip())
    return None


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def authenticate(request: HttpRequest, reference: str) -> HttpResponse:
    """The test bank's check: confirm or fail a payment that asked for it, then go back to the portal."""
    payment = (
        Payment.objects.filter(gateway="sandbox", gateway_ref=reference[:100], created_by_id=request.user.pk)
        .select_related("account")
        .first()
    )
    charge = SandboxCharge.objects.filter(reference=reference[:60]).first()
    if payment is None or charge is None:
        raise Http404
    # Our payment decides: one the portal has settled (called off after a day) can no longer be confirmed.
    waiting = (
        charge.status == ChargeStatus.REQUIRES_ACTION and payment.status == Payment.Status.REQUIRES_ACTION
    )
    if request.method == "POST":
        decision = request.POST.get("decision")
        if waiting and decision in ("confirm", "fail"):
            SandboxGateway().complete_authentication(reference, approved=decision == "confirm")
            return redirect(_back_to_portal(request, payment))
        if not waiting:
            return redirect(_back_to_portal(request, payment))
    context = {"payment": payment, "waiting": waiting, "back": _back_to_portal(request, payment)}
    status = 400 if request.method == "POST" else 200
    return render(request, "billing/gateways/sandbox_authenticate.html", context, status=status)


def _back_to_portal(request: HttpRequest, payment: Payment) -> str:
    """The `return` address if it is on this site (as a path), else the payment's own way back."""
    target = request.GET.get("return", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(target)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        # Only a path of ours: never "//host" or "/\\host", which browsers read as another site.
        if path.startswith("/billing/") and "\\" not in path and "//" not in path:
            return path
    return reverse("billing:payment_return", args=[payment.pk])
