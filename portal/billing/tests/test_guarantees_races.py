"""Races the stress test can only hit by luck, played out step by step.

Each test puts a second actor exactly inside the window between two steps of a payment
and checks the guarantee that matters to the payer: if the card was charged, the payment
says paid and the ledger has it; if the payment says "not completed", no money moved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from portal.audit.actor import Actor
from portal.billing import payments
from portal.billing.gateways.base import ChargeResult, GatewayUnavailable
from portal.billing.gateways.sandbox.gateway import SandboxGateway
from portal.billing.models import LedgerEntry, Payment, SandboxCharge, SandboxToken
from portal.billing.tests.support import (
    BillingWorld,
    access_for,
    balance,
    bill,
    billing_world,
    card_token,
    new_key,
)
from portal.test import make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw() -> BillingWorld:
    return billing_world(make_world())


def money_moved_means_paid(key: str) -> None:
    payment = Payment.objects.get(idempotency_key=key)
    charge = SandboxCharge.objects.filter(idempotency_key=key).first()
    charged = charge is not None and charge.status == Payment.Status.SUCCEEDED
    assert charged == (payment.status == Payment.Status.SUCCEEDED), (
        f"card charged: {charged}; the payment says {payment.status} ({payment.failure_message})"
    )
    assert LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.PAYMENT).count() == int(charged)


def test_a_double_click_arriving_while_the_first_click_charges_gets_the_same_charge(
    bw: BillingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tries of one key (a double click): the first charges the card in the moment
    between the second's "is there a charge for this key?" and its "was this card token
    used?" checks. The second must answer with the first's charge, not call it failed."""
    alice = bw.world.alice
    bill(alice, 100_00)
    key, token = new_key(), card_token()
    request = payments.PaymentRequest(amount_cents=40_00, idempotency_key=key, token=token)
    first_click: dict[str, ChargeResult] = {}
    find_token = SandboxToken.objects.filter

    def first_click_charges_now(*args: Any, **kwargs: Any) -> Any:
        if not first_click:
            first_click["result"] = ChargeResult(status="in progress")
            first_click["result"] = SandboxGateway().charge(
                amount_cents=40_00, idempotency_key=key, token=token
            )
        return find_token(*args, **kwargs)

    monkeypatch.setattr(SandboxToken.objects, "filter", first_click_charges_now)
    second = payments.do_pay(Actor.system(), access_for(bw.world.alice_user, alice), request)
    monkeypatch.undo()
    # The first click's answer arrives after the second's.
    payments.record_result(Actor.system(), second, first_click["result"])
    money_moved_means_paid(key)
    assert balance(alice) == 60_00


class RetryMeetsTheWorker(SandboxGateway):
    """The processor is slow the first time; on the retry the worker's reconcile runs
    while the retry is on its way to the processor."""

    def __init__(self) -> None:
        self.calls = 0

    def charge(self, **request: Any) -> ChargeResult:
        self.calls += 1
        if self.calls == 1:
            raise GatewayUnavailable("no answer")
        assert payments.reconcile_pending(older_than=dt.timedelta(0)) == 1
        return super().charge(**request)


def test_the_worker_settling_a_pending_payment_during_its_retry_does_not_lose_the_charge(
    bw: BillingWorld,
) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    key = new_key()
    request = payments.PaymentRequest(amount_cents=100_00, idempotency_key=key, token=card_token())
    access = access_for(bw.world.alice_user, alice)
    gateway = RetryMeetsTheWorker()
    assert payments.do_pay(Actor.system(), access, request, gateway=gateway).status == Payment.Status.PENDING
    payments.do_pay(Actor.system(), access, request, gateway=gateway)
    money_moved_means_paid(key)
