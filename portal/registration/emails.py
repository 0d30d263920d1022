"""Emails to people who asked for access, in the language they asked in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from portal.organization.models import CareTeam
from portal.patients.models import Patient
from portal.registration.models import AccessRequest


def _message(access_request: AccessRequest, template: str, context: dict[str, Any]) -> EmailMessage:
    with translation.override(access_request.language or settings.LANGUAGE_CODE):
        context = {
            "request": access_request,
            "site_name": settings.SITE_NAME,
            "register_url": settings.SITE_ROOT.rstrip("/") + reverse("registration:create_account"),
            "contact": contact_for(access_request),
            **context,
        }
        subject = render_to_string(f"registration/email/{template}_subject.txt", context)
        body = render_to_string(f"registration/email/{template}_body.txt", context)
    return EmailMessage(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [access_request.email])


def contact_for(access_request: AccessRequest) -> dict[str, str]:
    """Who the requester should call: the International office, or their campus's desk."""
    if access_request.kind == AccessRequest.Kind.INTERNATIONAL:
        office = CareTeam.objects.filter(kind=CareTeam.Kind.INTERNATIONAL_OFFICE).order_by("pk").first()
        if office is not None:
            return {"name": office.name, "phone": office.phone, "email": office.email}
    campus = access_request.campus
    if campus is not None:
        desk = _("the scheduling desk at %(campus)s") % {"campus": campus.short_name}
        return {"name": desk, "phone": campus.appointments_phone or campus.main_phone, "email": ""}
    return {"name": "", "phone": "", "email": ""}


def code_email(
    access_request: AccessRequest, patient: Patient, code: str, expires_at: dt.datetime
) -> EmailMessage:
    campus = patient.primary_campus
    context = {
        "code": code,
        "clinic_number": patient.clinic_number,
        "expires_on": expires_at.astimezone(campus.zone).date(),
        "zone_label": campus.zone_label,
    }
    return _message(access_request, "code", context)


def declined_email(access_request: AccessRequest) -> EmailMessage:
    return _message(access_request, "declined", {"reason": access_request.decline_reason})
