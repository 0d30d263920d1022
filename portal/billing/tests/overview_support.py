"""Helpers for the overview, statement, transaction, PDF and dashboard-card tests."""

from __future__ import annotations

import datetime as dt
import io

from django.test import Client
from django.urls import NoReverseMatch, reverse
from pypdf import PdfReader

from portal.accounts.models import User
from portal.billing import ledger, statements
from portal.billing.models import Statement
from portal.billing.tests.support import BillingWorld, bill
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.test import make_patient

MISSING = 987654321


def signed_in(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def persona(bw: BillingWorld, name: str) -> User | None:
    """The shared personas plus `payer` (greta, billing scope for alice) and `clerk` (the billing office)."""
    extra = {"payer": bw.payer, "clerk": bw.clerk}
    if name in extra:
        return extra[name]
    return bw.world.personas()[name]


def pay_url() -> str | None:
    """The pay page's address, once the pay area has added it."""
    try:
        return reverse("billing:pay")
    except NoReverseMatch:
        return None


def billed_statement(
    patient: Patient, *lines: tuple[int, int, int], issued_on: dt.date | None = None
) -> Statement:
    """Bill each (charge, insurance paid, adjusted) and issue a statement for them."""
    for charge, insurance, adjusted in lines or ((250_00, 150_00, 20_00),):
        bill(patient, charge, insurance_cents=insurance, adjustment_cents=adjusted)
    return statements.issue_statement(ledger.account_for(patient), issued_on=issued_on)


def make_child(parent: User, campus_patient: Patient, scopes: list[str] | None = None) -> Patient:
    """A child whose parent (`parent`) holds a grant with the billing scope."""
    child = make_patient("10000077", "Casey", "Able", campus_patient.primary_campus)
    child.birth_date = dt.date(2018, 3, 1)
    child.save(update_fields=["birth_date"])
    ProxyGrant.objects.create(
        grantee=parent,
        patient=child,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=scopes or [Scope.VIEW, Scope.BILLING],
    )
    return child


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() or "" for page in reader.pages)
