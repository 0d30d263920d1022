"""Test helpers for billing: a clinic with a billing office, a paying parent, and quick money moves."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing import ledger, payments, statements
from portal.billing.gateways.sandbox.cards import tokenise
from portal.billing.models import Account, Payment, ServiceLine
from portal.organization.models import CareTeam, Practitioner
from portal.patients.access import PatientAccess, decide
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.test import World, make_staff, make_user

VISA = "4242424242424242"
DECLINED = "4000000000000002"
NO_FUNDS = "4000000000009995"
NEEDS_CHECK = "4000002500003155"
FAILS_LATER = "4000000000000119"
HSA = "4000000000000077"


@dataclass
class BillingWorld:
    """The shared World plus the billing office (clerk `bill`) and `greta`, a proxy with only the billing scope.

    `world.proxy_user` (pat) has view and message scopes but not billing: bills are a 404 to pat.
    """

    world: World
    billing_office: CareTeam
    clerk: User
    payer: User
    payer_grant: ProxyGrant


def billing_world(world: World) -> BillingWorld:
    office = CareTeam.objects.create(slug="billing", name="Billing office", kind=CareTeam.Kind.BILLING_OFFICE)
    clerk = make_staff("bill", Practitioner.Role.BILLING, office)
    payer, grant = make_billing_proxy(world)
    return BillingWorld(world, office, clerk, payer, grant)


def make_billing_proxy(world: World) -> tuple[User, ProxyGrant]:
    """Greta, who pays Alice's bills: a caregiver with the billing scope only."""
    payer = make_user("greta", first_name="Greta", last_name="Able")
    grant = ProxyGrant.objects.create(
        grantee=payer,
        patient=world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.BILLING],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    return payer, grant


def access_for(user: User, patient: Patient) -> PatientAccess:
    access = decide(user, patient)
    assert access is not None, f"{user} cannot act for {patient}"
    return access


def bill(
    patient: Patient,
    charge_cents: int = 250_00,
    *,
    insurance_cents: int = 0,
    adjustment_cents: int = 0,
    code: str = "99213",
    description: str = "Office visit, established patient",
    on: dt.date | None = None,
    sensitivity: str | None = None,
) -> ServiceLine:
    """A billed service on the patient's account (and its ledger entries)."""
    return statements.add_service_line(
        ledger.account_for(patient),
        service_date=on or timezone.localdate() - dt.timedelta(days=10),
        code=code,
        description=description,
        charge_cents=charge_cents,
        insurance_paid_cents=insurance_cents,
        adjustment_cents=adjustment_cents,
        sensitivity=sensitivity,
    )


def new_key() -> str:
    return uuid.uuid4().hex


def card_token(number: str = VISA, *, reusable: bool = False) -> str:
    return tokenise(
        number, 12, timezone.now().year + 2, "1234" if number.startswith("3") else "123", reusable=reusable
    ).token


def pay(
    user: User,
    patient: Patient,
    amount_cents: int,
    *,
    number: str = VISA,
    key: str | None = None,
    token: str | None = None,
    **request: Any,
) -> Payment:
    """A payment through the sandbox, as `user` acting for `patient`."""
    return payments.do_pay(
        Actor.system(),
        access_for(user, patient),
        payments.PaymentRequest(
            amount_cents=amount_cents,
            idempotency_key=key or new_key(),
            token=token if token is not None else card_token(number),
            **request,
        ),
    )


def balance(patient: Patient) -> int:
    return Account.objects.get(patient=patient).balance_cents


def assert_balanced(account: Account) -> None:
    account.refresh_from_db()
    assert account.balance_cents == ledger.derived_balance(account), (
        f"cached balance {account.balance_cents} != ledger {ledger.derived_balance(account)}"
    )
