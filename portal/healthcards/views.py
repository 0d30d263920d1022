"""Health cards: the issuer's public key for verifiers, and the patient's card pages.

The pages are the record's (a patient, or a proxy with the view scope, for the patient
chosen in the switcher); every card made is audited as a read of the patient's record.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from portal.healthcards import signing
from portal.healthcards.cards import Card, Kind, make_card
from portal.healthcards.qr import qr_svg
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page

CONTENT_TYPE = "application/smart-health-card"
# Tells the record's section navigation which link is current on these pages.
RECORD_SECTION = "health_cards"


@require_safe
def jwks(request: HttpRequest) -> JsonResponse:
    """The public key verifiers check cards with; public, cacheable and open to every origin."""
    response = JsonResponse(signing.public_jwks())
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
@patient_page(scope=Scope.VIEW)
def choose(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Which card to make. Shows no health data, so reads nothing and audits nothing."""
    return render(
        request,
        "healthcards/choose.html",
        {"access": access, "record_section": RECORD_SECTION, "lab_months": _lab_months()},
    )


@require_safe
@patient_page(scope=Scope.VIEW)
def card(request: HttpRequest, access: PatientAccess, kind: str) -> HttpResponse:
    """What the card holds, in plain words, and the card as a QR code."""
    made = make_card(access, Kind(kind))
    record_read(request, access, f"healthcards.{kind}_card", items=len(made.items), left_out=made.left_out)
    qr = qr_svg(made.jws, _qr_label(made)) if made.jws else None
    context = {
        "access": access,
        "record_section": RECORD_SECTION,
        "card": made,
        "qr": qr,
        "lab_months": _lab_months(),
        "download_url": f"healthcards:{kind}_file",
    }
    return render(request, "healthcards/card.html", context)


@require_safe
@patient_page(scope=Scope.VIEW)
def download(request: HttpRequest, access: PatientAccess, kind: str) -> HttpResponse:
    """The card as a `.smart-health-card` file, which health wallets import."""
    made = make_card(access, Kind(kind))
    if not made.jws:
        # Nothing to put on a card: the card page says so.
        return redirect(f"healthcards:{kind}")
    record_read(request, access, f"healthcards.{kind}_file", items=len(made.items), left_out=made.left_out)
    content = json.dumps({"verifiableCredential": [made.jws]}).encode()
    response = HttpResponse(content, content_type=CONTENT_TYPE)
    name = f"{kind}-{access.patient.clinic_number}-{timezone.localdate().isoformat()}.smart-health-card"
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    response["Cache-Control"] = "no-store"
    return response


def _qr_label(made: Card) -> str:
    if made.kind is Kind.IMMUNIZATIONS:
        return _("QR code: your SMART Health Card of the immunizations listed above")
    return _("QR code: your SMART Health Card of the test results listed above")


def _lab_months() -> int:
    return int(settings.PORTAL_SHC_LAB_MONTHS)
