"""Saved cards: keeping a card for later payments, and removing it.

A saved card belongs to the user who saved it (the card holder), not to a patient: a
parent's card pays for each of their children. The audit event still names the patient
being acted for, so the patient's access log shows who changed how their bills are paid.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.billing.gateways.base import Gateway, GatewayError, GatewayUnavailable
from portal.billing.gateways.registry import gateway as configured_gateway
from portal.billing.models import Funding, PaymentPlan, SavedCard
from portal.billing.payments import customer_of
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Scope

logger = logging.getLogger(__name__)


class CardRefused(Exception):
    """The card cannot be saved or removed; the text says why, for the card holder."""


def do_save_card(
    actor: Actor, access: PatientAccess, *, token: str, gateway: Gateway | None = None
) -> SavedCard:
    """Turn a token from the gateway's browser form into a card saved for `actor.user`."""
    if actor.user is None or not access.allows(Scope.BILLING):
        raise CardRefused(_("You cannot save a card here."))
    gateway = gateway or configured_gateway()
    customer = customer_of(actor.user, gateway.name)
    # The processor is asked outside the transaction: a network call must not hold the database.
    try:
        method = gateway.save_card(token=token, customer_ref=customer)
    except GatewayUnavailable as error:
        raise CardRefused(
            _("The card processor did not answer. Your card is not saved; please try again.")
        ) from error
    except GatewayError as error:
        raise CardRefused(_("The card could not be saved. Enter it again.")) from error
    with transaction.atomic():
        card = SavedCard.objects.create(
            owner=actor.user,
            gateway=gateway.name,
            customer_ref=method.customer_ref,
            method_ref=method.method_ref,
            brand=method.brand[:20],
            last4=method.last4[-4:],
            exp_month=method.exp_month,
            exp_year=method.exp_year,
            funding=method.funding if method.funding in Funding.values else Funding.UNKNOWN,
        )
        record_write(
            actor, access, "billing.card_save", obj=card, detail={"brand": card.brand, "last4": card.last4}
        )
    return card


def do_remove_card(actor: Actor, access: PatientAccess, card: SavedCard) -> SavedCard:
    """Stop offering a saved card, and have the gateway forget it. Payments made with it keep their record of it.

    The card is removed here first (it can no longer be chosen or charged by a plan); the
    gateway is then asked, outside the transaction, to drop it. If it does not answer,
    the card stays removed here and the failure is logged for the billing office.
    """
    removed = _remove_card(actor, access, card)
    try:
        configured_gateway(removed.gateway).forget_card(removed.method_ref)
    except (GatewayUnavailable, GatewayError, LookupError):
        logger.warning("the card processor did not forget saved card %s; detach it there", removed.pk)
    return removed


@transaction.atomic
def _remove_card(actor: Actor, access: PatientAccess, card: SavedCard) -> SavedCard:
    current = SavedCard.objects.select_for_update().filter(pk=card.pk, owner=actor.user).first()
    if current is None or current.removed_at is not None:
        raise CardRefused(_("This card is already removed."))
    if PaymentPlan.objects.filter(saved_card=current, status=PaymentPlan.Status.ACTIVE).exists():
        raise CardRefused(
            _("This card pays a payment plan. Choose another card for the plan before removing this one.")
        )
    current.removed_at = timezone.now()
    current.save(update_fields=["removed_at"])
    record_write(
        actor,
        access,
        "billing.card_remove",
        obj=current,
        detail={"brand": current.brand, "last4": current.last4},
    )
    card.removed_at = current.removed_at
    return current
