"""The demo's newcomer: a generated patient with no account and a published activation code.

Run by `portal demo` only, never in production. The newcomer is the first generated
adult without an account (Rochester patients first), so refreshing the demo after
someone has registered moves the published code on to the next person. Like the rest
of the demo seeding it writes directly, without audit events. It also leaves two
requests for access in the queues when there are none (one for Rochester's scheduling
desk, one for the International office), made from other generated patients' details
so that staff can match them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from portal.lib.seeding import GENERATED_CLINIC_NUMBERS
from portal.lib.seeding.demo_users import EMAIL_DOMAIN, DemoRefused
from portal.patients.models import Patient
from portal.registration.codes import code_hash
from portal.registration.models import AccessRequest, ActivationCode

# Published on purpose: the demo never runs in production.
DEMO_ACTIVATION_CODE = "DEMX-2026-REG1"
ADULT_YEARS = 18


@dataclass(frozen=True)
class DemoRegistration:
    """What `portal demo` prints so that anyone can try "Create account"."""

    clinic_number: str
    given_name: str
    family_name: str
    birth_date: dt.date
    code: str


@transaction.atomic
def create_demo_registration(today: dt.date | None = None) -> DemoRegistration | None:
    """Point the published code at an unregistered adult; None if there is nobody."""
    if settings.PRODUCTION:
        raise DemoRefused("Demo activation codes are never created in production.")
    today = today or timezone.now().date()
    candidates = _unregistered_adults(today)
    newcomer = candidates.first()
    if newcomer is None:
        return None
    _publish_code(newcomer)
    _seed_requests(candidates.exclude(pk=newcomer.pk))
    return DemoRegistration(
        newcomer.clinic_number,
        newcomer.given_name,
        newcomer.family_name,
        newcomer.birth_date,
        DEMO_ACTIVATION_CODE,
    )


def _unregistered_adults(today: dt.date) -> models.QuerySet[Patient]:
    first_generated = str(GENERATED_CLINIC_NUMBERS.start)
    rochester_first = models.Case(models.When(primary_campus__slug="rochester", then=0), default=1)
    return (
        Patient.objects.filter(
            account__isnull=True,
            clinic_number__gte=first_generated,
            birth_date__lte=dt.date(today.year - ADULT_YEARS - 1, 1, 1),
        )
        .select_related("primary_campus")
        .order_by(rochester_first, "clinic_number")
    )


def _publish_code(newcomer: Patient) -> None:
    now = timezone.now()
    published = code_hash(DEMO_ACTIVATION_CODE)
    current = ActivationCode.objects.filter(code_hash=published).first()
    if current is not None and (current.patient_id != newcomer.pk or current.used_at is not None):
        # Someone registered with it (or it named someone else): keep that history, and
        # free the published code for the newcomer.
        current.code_hash = code_hash(f"retired-demo-code-{current.pk}")
        if current.used_at is None and current.revoked_at is None:
            current.revoked_at = now
        current.save(update_fields=["code_hash", "revoked_at"])
        current = None
    expires_at = now + dt.timedelta(days=settings.PORTAL_ACTIVATION_CODE_DAYS)
    if current is None:
        ActivationCode.objects.create(
            patient=newcomer, code_hash=published, created_at=now, expires_at=expires_at
        )
    else:
        current.revoked_at, current.expires_at = None, expires_at
        current.save(update_fields=["revoked_at", "expires_at"])


def _seed_requests(others: models.QuerySet[Patient]) -> None:
    if AccessRequest.objects.exists():
        return
    us = others.filter(primary_campus__country="US").first()
    if us is not None:
        _request_from(us, AccessRequest.Kind.US)
    abroad = others.exclude(primary_campus__country="US").first()
    if abroad is not None:
        _request_from(abroad, AccessRequest.Kind.INTERNATIONAL)


def _request_from(patient: Patient, kind: str) -> None:
    international = kind == AccessRequest.Kind.INTERNATIONAL
    AccessRequest.objects.create(
        kind=kind,
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date,
        email=patient.email or f"{patient.clinic_number}@{EMAIL_DOMAIN}",
        phone=patient.mobile_phone or patient.home_phone or "507-555-0199",
        address_line=patient.address_line or "1 Example Street",
        city=patient.city or patient.primary_campus.city,
        region=patient.region,
        postal_code=patient.postal_code,
        country="United Kingdom" if international else "US",
        campus=patient.primary_campus,
        message="I lost the letter with my activation code.",
    )


def describe(demo: DemoRegistration | None, address: str) -> str:
    if demo is None:
        return 'Every generated adult has an account, so there is no one to try "Create account" with.\n'
    return (
        f'Try "Create account" at http://{address}/register/ as {demo.given_name} {demo.family_name}:\n'
        f"  clinic number {demo.clinic_number}, born {demo.birth_date.isoformat()}, "
        f"activation code {demo.code}\n"
        "  (any email address: the confirmation link prints in this console).\n"
    )
