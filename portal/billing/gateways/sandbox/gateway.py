"""The local sandbox gateway: a card processor in our own database, for the demo and tests.

It behaves like a real one where it matters: tokens are made by its own form in the
browser (`static/billing/js/sandbox-card.js` posting to `sandbox_gateway:tokens`),
a charge is named by the caller's idempotency key and asking again returns the same
charge, a test card may need the bank's check (a page of its own), and one fails after
a delay without charging (`PORTAL_SANDBOX_FAIL_DELAY_SECONDS`).
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse

from portal.billing.gateways.base import (
    BrowserForm,
    ChargeResult,
    ChargeStatus,
    Gateway,
    GatewayError,
    SavedMethod,
)
from portal.billing.models import SandboxCharge, SandboxRefund, SandboxToken

_DECLINES = {
    "decline": "card_declined",
    "insufficient_funds": "insufficient_funds",
}


class SandboxGateway(Gateway):
    name = "sandbox"

    def charge(
        self,
        *,
        amount_cents: int,
        idempotency_key: str,
        token: str = "",
        saved: SavedMethod | None = None,
        description: str = "",
        return_url: str = "",
        off_session: bool = False,
        save_for_later: bool = False,
        customer_ref: str = "",
    ) -> ChargeResult:
        existing = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return self._answer(existing, amount_cents)
        card = SandboxToken.objects.filter(token=saved.method_ref if saved else token).first()
        if card is None or (saved is not None and not card.reusable):
            raise GatewayError("unknown card token")
        if not card.reusable and SandboxCharge.objects.filter(token=card.token).exists():
            # Used by this very key a moment ago (a concurrent retry)? Then that is the answer.
            again = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
            if again is not None:
                return self._answer(again, amount_cents, return_url)
            raise GatewayError("this card token was already used")
        status, decline_code = self._outcome(card, off_session)
        if save_for_later and not card.reusable:
            SandboxToken.objects.filter(pk=card.pk).update(reusable=True)
        try:
            with transaction.atomic():
                made = SandboxCharge.objects.create(
                    idempotency_key=idempotency_key,
                    reference="ch_sbx_" + secrets.token_urlsafe(12),
                    token=card.token,
                    amount_cents=amount_cents,
                    status=status,
                    decline_code=decline_code,
                )
        except IntegrityError:
            # The same key arrived twice at once: both callers get the one charge.
            made = SandboxCharge.objects.get(idempotency_key=idempotency_key)
        return self._answer(made, amount_cents, return_url)

    def _outcome(self, card: SandboxToken, off_session: bool) -> tuple[str, str]:
        if card.behaviour == "fail_after_delay":
            time.sleep(settings.PORTAL_SANDBOX_FAIL_DELAY_SECONDS)
            return ChargeStatus.FAILED, "processing_error"
        if card.behaviour in _DECLINES:
            return ChargeStatus.DECLINED, _DECLINES[card.behaviour]
        if card.behaviour == "authenticate":
            if off_session:
                return ChargeStatus.DECLINED, "authentication_required"
            return ChargeStatus.REQUIRES_ACTION, ""
        return ChargeStatus.SUCCEEDED, ""

    def _answer(self, charge: SandboxCharge, amount_cents: int, return_url: str = "") -> ChargeResult:
        if charge.amount_cents != amount_cents:
            raise GatewayError("idempotency key reused with a different amount")
        card = SandboxToken.objects.filter(token=charge.token).first()
        next_url = ""
        saved = None
        if card is not None and card.reusable:
            saved = SavedMethod(
                method_ref=card.token,
                customer_ref="cus_sbx_" + card.token[-12:],
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                funding=card.funding,
            )
        if charge.status == ChargeStatus.REQUIRES_ACTION:
            next_url = reverse("sandbox_gateway:authenticate", args=[charge.reference])
            if return_url:
                next_url += "?" + urlencode({"return": return_url})
        return ChargeResult(
            status=charge.status,
            reference=charge.reference,
            brand=card.brand if card else "",
            last4=card.last4 if card else "",
            funding=card.funding if card else "unknown",
            decline_code=charge.decline_code,
            next_action_url=next_url,
            saved_method=saved,
        )

    def retrieve(self, reference: str) -> ChargeResult:
        charge = SandboxCharge.objects.filter(reference=reference).first()
        if charge is None:
            raise GatewayError("unknown charge")
        return self._answer(charge, charge.amount_cents)

    def cancel(self, reference: str) -> ChargeResult:
        SandboxCharge.objects.filter(reference=reference, status=ChargeStatus.REQUIRES_ACTION).update(
            status=ChargeStatus.FAILED, decline_code="canceled"
        )
        return self.retrieve(reference)

    def lookup(self, idempotency_key: str) -> ChargeResult | None:
        charge = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
        return None if charge is None else self._answer(charge, charge.amount_cents)

    def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> str:
        earlier = SandboxRefund.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            return earlier.reference
        with transaction.atomic():
            charge = SandboxCharge.objects.select_for_update().filter(reference=reference).first()
            if charge is None or charge.status != ChargeStatus.SUCCEEDED:
                raise GatewayError("only a paid charge can be refunded")
            if charge.refunded_cents + amount_cents > charge.amount_cents:
                raise GatewayError("refund exceeds the charge")
            SandboxCharge.objects.filter(pk=charge.pk).update(
                refunded_cents=F("refunded_cents") + amount_cents
            )
            made = SandboxRefund.objects.create(
                idempotency_key=idempotency_key,
                charge=charge,
                reference="re_sbx_" + secrets.token_urlsafe(12),
                amount_cents=amount_cents,
            )
        return made.reference

    def save_card(self, *, token: str, customer_ref: str = "") -> SavedMethod:
        card = SandboxToken.objects.filter(token=token).first()
        if card is None:
            raise GatewayError("unknown card token")
        reusable = SandboxToken.objects.create(
            token="pm_sbx_" + secrets.token_urlsafe(18),
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            funding=card.funding,
            behaviour=card.behaviour,
            reusable=True,
        )
        return SavedMethod(
            method_ref=reusable.token,
            customer_ref=customer_ref or "cus_sbx_" + secrets.token_urlsafe(9),
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            funding=card.funding,
        )

    def forget_card(self, method_ref: str) -> None:
        SandboxToken.objects.filter(token=method_ref, reusable=True).update(reusable=False)

    def browser_form(self, request: Any) -> BrowserForm:
        return BrowserForm(
            template="billing/gateways/sandbox_card.html",
            context={"tokens_url": reverse("sandbox_gateway:tokens")},
        )

    def complete_authentication(self, reference: str, approved: bool) -> None:
        """The payer answered the sandbox bank's check (called by the sandbox's own page)."""
        SandboxCharge.objects.filter(reference=reference, status=ChargeStatus.REQUIRES_ACTION).update(
            status=ChargeStatus.SUCCEEDED if approved else ChargeStatus.DECLINED,
            decline_code="" if approved else "authentication_failed",
        )
