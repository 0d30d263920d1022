"""Test helpers for payment plans: saved cards and plans set up in one call."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing import plans
from portal.billing.gateways.registry import gateway
from portal.billing.models import PaymentPlan, SavedCard
from portal.billing.tests.support import VISA, access_for, card_token
from portal.patients.models import Patient


def saved_card(owner: User, number: str = VISA, *, expired: bool = False) -> SavedCard:
    """A card `owner` saved with the sandbox (one that ran out last year if `expired`)."""
    method = gateway().save_card(token=card_token(number))
    return SavedCard.objects.create(
        owner=owner,
        gateway="sandbox",
        customer_ref=method.customer_ref,
        method_ref=method.method_ref,
        brand=method.brand,
        last4=method.last4,
        exp_month=method.exp_month,
        exp_year=timezone.localdate().year - 1 if expired else method.exp_year,
        funding=method.funding,
    )


def make_plan(
    user: User,
    patient: Patient,
    total_cents: int = 300_00,
    months: int = 3,
    *,
    card: SavedCard | None = None,
    no_card: bool = False,
    start_on: dt.date | None = None,
) -> PaymentPlan:
    """A plan set up by `user` for `patient` (with a new card of `user`'s unless given, or none)."""
    if card is None and not no_card:
        card = saved_card(user)
    return plans.do_create_plan(
        Actor(user=user),
        access_for(user, patient),
        total_cents=total_cents,
        months=months,
        saved_card=card,
        start_on=start_on or timezone.localdate(),
    )
