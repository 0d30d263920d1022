"""The payment core: a key charges once, declines change nothing, the ledger balances."""

from __future__ import annotations

import pytest

from portal.billing import payments
from portal.billing.models import LedgerEntry, Payment, SandboxCharge
from portal.billing.tests.support import (
    DECLINED,
    NEEDS_CHECK,
    assert_balanced,
    balance,
    bill,
    billing_world,
    card_token,
    new_key,
    pay,
)
from portal.test import make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw():
    return billing_world(make_world())


def test_a_successful_payment_lowers_the_balance_once(bw):
    alice = bw.world.alice
    bill(alice, 250_00, insurance_cents=150_00, adjustment_cents=20_00)
    assert balance(alice) == 80_00
    payment = pay(bw.world.alice_user, alice, 80_00)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.receipt_number
    assert (payment.brand, payment.last4) == ("Visa", "4242")
    assert balance(alice) == 0
    assert_balanced(payment.account)


def test_the_same_key_returns_the_same_payment_and_charges_once(bw):
    alice = bw.world.alice
    bill(alice, 100_00)
    key, token = new_key(), card_token()
    first = pay(bw.world.alice_user, alice, 40_00, key=key, token=token)
    again = pay(bw.world.alice_user, alice, 40_00, key=key, token=token)
    assert first.pk == again.pk
    assert SandboxCharge.objects.filter(idempotency_key=key).count() == 1
    assert LedgerEntry.objects.filter(payment=first).count() == 1
    assert balance(alice) == 60_00


def test_the_same_key_with_another_amount_is_refused(bw):
    alice = bw.world.alice
    bill(alice, 100_00)
    key = new_key()
    pay(bw.world.alice_user, alice, 40_00, key=key)
    with pytest.raises(payments.PaymentRefused):
        pay(bw.world.alice_user, alice, 50_00, key=key)
    assert balance(alice) == 60_00


def test_a_declined_card_changes_nothing_and_says_why(bw):
    alice = bw.world.alice
    bill(alice, 100_00)
    payment = pay(bw.world.alice_user, alice, 100_00, number=DECLINED)
    assert payment.status == Payment.Status.DECLINED
    assert "not been charged" in payment.failure_message
    assert balance(alice) == 100_00
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT, payer="patient").exists()


def test_a_bank_check_waits_then_completes(bw):
    from portal.billing.gateways.registry import gateway

    alice = bw.world.alice
    bill(alice, 100_00)
    payment = pay(bw.world.alice_user, alice, 100_00, number=NEEDS_CHECK)
    assert payment.status == Payment.Status.REQUIRES_ACTION
    assert payment.next_action_url
    assert balance(alice) == 100_00
    gateway("sandbox").complete_authentication(payment.gateway_ref, approved=True)
    from portal.audit.actor import Actor

    done = payments.finish_authentication(Actor.system(), payment)
    assert done.status == Payment.Status.SUCCEEDED
    assert balance(alice) == 0


def test_a_proxy_without_the_billing_scope_cannot_pay(bw):
    alice = bw.world.alice
    bill(alice, 100_00)
    with pytest.raises(payments.PaymentRefused):
        pay(bw.world.proxy_user, alice, 10_00)
    assert pay(bw.payer, alice, 10_00).status == Payment.Status.SUCCEEDED


def test_more_than_is_owed_is_refused(bw):
    alice = bw.world.alice
    bill(alice, 100_00)
    with pytest.raises(payments.PaymentRefused):
        pay(bw.world.alice_user, alice, 100_01)
    assert not Payment.objects.exists()


class _Silent:
    """A gateway that never answers: the payment stays pending."""

    name = "sandbox"

    def charge(self, **_kwargs):
        from portal.billing.gateways.base import GatewayUnavailable

        raise GatewayUnavailable


def test_a_payment_still_in_progress_counts_against_what_may_be_paid(bw):
    from portal.audit.actor import Actor
    from portal.billing.tests.support import access_for

    alice = bw.world.alice
    bill(alice, 100_00)
    request = payments.PaymentRequest(amount_cents=100_00, idempotency_key=new_key(), token=card_token())
    access = access_for(bw.world.alice_user, alice)
    waiting = payments.do_pay(Actor.system(), access, request, gateway=_Silent())
    assert waiting.status == Payment.Status.PENDING
    with pytest.raises(payments.PaymentRefused, match="still being processed"):
        pay(bw.world.alice_user, alice, 100_00)
    assert (
        pay(bw.world.alice_user, alice, 100_00, key=request.idempotency_key, token=request.token).pk
        == waiting.pk
    )


def test_an_abandoned_bank_check_is_called_off_and_can_no_longer_be_confirmed(bw):
    import datetime as dt

    from django.test import Client
    from django.urls import reverse

    alice = bw.world.alice
    bill(alice, 100_00)
    payment = pay(bw.world.alice_user, alice, 100_00, number=NEEDS_CHECK)
    Payment.objects.filter(pk=payment.pk).update(created_at=payment.created_at - dt.timedelta(days=2))
    assert payments.reconcile_pending() == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert SandboxCharge.objects.get().status == "failed"
    client = Client()
    client.force_login(bw.world.alice_user)
    bank = reverse("sandbox_gateway:authenticate", args=[payment.gateway_ref])
    client.post(bank, {"decision": "confirm"})
    assert SandboxCharge.objects.get().status == "failed"
    assert balance(alice) == 100_00


def test_a_bank_check_finished_in_time_is_recorded_as_paid(bw):
    import datetime as dt

    from portal.billing.gateways.registry import gateway

    alice = bw.world.alice
    bill(alice, 100_00)
    payment = pay(bw.world.alice_user, alice, 100_00, number=NEEDS_CHECK)
    gateway("sandbox").complete_authentication(payment.gateway_ref, approved=True)
    Payment.objects.filter(pk=payment.pk).update(created_at=payment.created_at - dt.timedelta(days=2))
    payments.reconcile_pending()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert balance(alice) == 0


def test_a_form_cannot_claim_a_key_the_worker_will_use(bw):
    bill(bw.world.bob, 5_00)
    with pytest.raises(payments.PaymentRefused):
        pay(bw.world.bob_user, bw.world.bob, 5_00, key="plan-0000000001-1", number=DECLINED)
    assert not Payment.objects.exists()


def test_a_bank_check_counts_against_the_balance_until_it_is_settled(bw):
    import datetime as dt

    alice = bw.world.alice
    bill(alice, 100_00)
    waiting = pay(bw.world.alice_user, alice, 100_00, number=NEEDS_CHECK)
    Payment.objects.filter(pk=waiting.pk).update(created_at=waiting.created_at - dt.timedelta(minutes=31))
    with pytest.raises(payments.PaymentRefused, match="still being processed"):
        pay(bw.world.alice_user, alice, 100_00)
    assert balance(alice) == 100_00


def test_a_charge_the_gateway_showed_late_is_recorded_by_the_next_sweep(bw):
    import datetime as dt

    from portal.billing.gateways.base import ChargeStatus
    from portal.billing.gateways.sandbox.gateway import SandboxGateway

    alice = bw.world.alice
    bill(alice, 100_00)
    payment = pay(bw.world.alice_user, alice, 100_00)
    # As if the worker had failed it as never seen (a lagging search) before the charge showed.
    Payment.objects.filter(pk=payment.pk).update(
        status=Payment.Status.FAILED, failure_code=payments.UNSEEN, receipt_number=None
    )
    LedgerEntry.objects.filter(payment=payment).delete()
    from portal.billing import ledger

    account = ledger.account_for(alice)
    account.balance_cents = 100_00
    account.save(update_fields=["balance_cents"])
    assert SandboxGateway().lookup(payment.idempotency_key).status == ChargeStatus.SUCCEEDED
    assert payments.reconcile_pending(older_than=dt.timedelta(0)) == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert balance(alice) == 0
