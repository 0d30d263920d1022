"""The Stripe gateway against recorded Stripe exchanges (cassettes/stripe/*.json), no network.

Each test replays one cassette through the official library: the library's requests must
match the recorded ones (parameters and the Idempotency-Key header), and Stripe's
recorded answers must come out as the portal's ChargeResult.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.test import override_settings

from portal.audit.actor import Actor
from portal.billing import payments
from portal.billing.gateways.base import (
    ChargeResult,
    ChargeStatus,
    GatewayError,
    GatewayUnavailable,
    SavedMethod,
)
from portal.billing.gateways.registry import gateway as configured_gateway
from portal.billing.gateways.stripe.gateway import StripeGateway
from portal.billing.models import LedgerEntry, Payment, SavedCard
from portal.billing.tests.cassettes.replay import ReplayClient
from portal.billing.tests.support import access_for, assert_balanced, balance, bill, billing_world
from portal.test import make_world

KEY = "k7Jq2ZpX4vN8rT1sW6yB3mC5"
PM = "pm_1QaYzxF4kq1Rb2XyVisa4242"
DESCRIPTION = "Payment on account G000123456"
RETURN = "https://portal.example.org/billing/payments/7/"


def replaying(cassette: str, **values: str) -> tuple[StripeGateway, ReplayClient]:
    client = ReplayClient(cassette, **values)
    return StripeGateway(secret_key="sk_test_replay", http_client=client, max_network_retries=0), client


def charge(
    gateway: StripeGateway, amount_cents: int, token: str = PM, *, save_for_later: bool = False
) -> ChargeResult:
    return gateway.charge(
        amount_cents=amount_cents,
        idempotency_key=KEY,
        token=token,
        description=DESCRIPTION,
        return_url=RETURN,
        save_for_later=save_for_later,
    )


def test_a_successful_charge_is_paid_with_the_cards_details() -> None:
    gateway, client = replaying("charge_succeeded")
    result = charge(gateway, 80_00)
    assert result.status == ChargeStatus.SUCCEEDED
    assert result.reference == "pi_3QaZ0cF4kq1Rb2Xy0aB7cD9e"
    assert (result.brand, result.last4, result.funding) == ("Visa", "4242", "credit")
    assert result.saved_method is None
    client.assert_finished()
    assert client.sent[0].headers["Idempotency-Key"] == KEY
    assert client.sent[0].headers["Authorization"] == "Bearer sk_test_replay"


def test_a_declined_card_is_declined_with_its_code() -> None:
    gateway, client = replaying("charge_declined")
    result = charge(gateway, 50_00, token="pm_1QaYzxF4kq1Rb2XyDecl0002")
    assert result.status == ChargeStatus.DECLINED
    # Stripe's generic_decline reads as the portal's card_declined.
    assert result.decline_code == "card_declined"
    assert result.reference == "pi_3QaZ0cF4kq1Rb2Xy0Dcl0002"
    assert result.last4 == "0002"
    client.assert_finished()


def test_not_enough_money_is_declined_as_insufficient_funds() -> None:
    gateway, _client = replaying("charge_insufficient_funds")
    result = charge(gateway, 50_00, token="pm_1QaYzxF4kq1Rb2XyFund9995")
    assert (result.status, result.decline_code) == (ChargeStatus.DECLINED, "insufficient_funds")
    assert "not have enough money" in payments.decline_words(result.decline_code)


def test_a_bank_check_sends_the_payer_to_stripes_page_then_succeeds() -> None:
    gateway, client = replaying("charge_requires_action")
    result = charge(gateway, 100_00, token="pm_1QaYzxF4kq1Rb2Xy3ds23155")
    assert result.status == ChargeStatus.REQUIRES_ACTION
    assert result.next_action_url.startswith("https://hooks.stripe.com/3d_secure_2/hosted?")
    assert client.sent[0].params["return_url"] == RETURN
    after = gateway.retrieve(result.reference)
    assert (after.status, after.last4) == (ChargeStatus.SUCCEEDED, "3155")
    client.assert_finished()


def test_a_failed_bank_check_is_a_decline() -> None:
    gateway, _client = replaying("retrieve_authentication_failed")
    result = gateway.retrieve("pi_3QaZ0cF4kq1Rb2Xy03ds3155")
    assert (result.status, result.decline_code) == (ChargeStatus.DECLINED, "authentication_failed")


def test_a_saved_card_off_session_that_needs_the_bank_is_declined() -> None:
    gateway, client = replaying("charge_off_session_authentication_required")
    saved = SavedMethod(
        "pm_1QaYzxF4kq1Rb2XySvd33155", "cus_RbQ8x2LmN4pZ7w", "Visa", "3155", 12, 2030, "credit"
    )
    result = gateway.charge(
        amount_cents=60_00,
        idempotency_key="plan-41-1-attempt-0001",
        saved=saved,
        description=DESCRIPTION,
        return_url=RETURN,
        off_session=True,
    )
    assert (result.status, result.decline_code) == (ChargeStatus.DECLINED, "authentication_required")
    sent = client.sent[0].params
    assert (sent["customer"], sent["off_session"]) == ("cus_RbQ8x2LmN4pZ7w", "true")
    assert "return_url" not in sent
    client.assert_finished()


@pytest.mark.parametrize("cassette", ["charge_connection_error", "charge_server_error", "charge_processing"])
def test_no_answer_or_an_unfinished_charge_leaves_the_outcome_unknown(cassette: str) -> None:
    gateway, client = replaying(cassette)
    with pytest.raises(GatewayUnavailable):
        charge(gateway, 80_00)
    client.assert_finished()


def test_a_key_reused_with_other_parameters_stays_unknown_for_the_worker() -> None:
    # The earlier request with this key may have charged: never call that "not charged".
    gateway, _client = replaying("charge_idempotency_error")
    with pytest.raises(GatewayUnavailable, match="idempotent"):
        charge(gateway, 90_00)


def test_an_unknown_token_is_refused() -> None:
    gateway, _client = replaying("charge_invalid_request")
    with pytest.raises(GatewayError, match="No such PaymentMethod"):
        charge(gateway, 80_00, token="pm_doesnotexist")


def test_saving_for_later_makes_a_customer_once_per_key_and_returns_the_saved_card() -> None:
    gateway, client = replaying("charge_save_for_later")
    result = charge(gateway, 30_00, token="pm_1QaYzxF4kq1Rb2XyKeep4444", save_for_later=True)
    assert result.status == ChargeStatus.SUCCEEDED
    assert result.saved_method == SavedMethod(
        method_ref="pm_1QaYzxF4kq1Rb2XyKeep4444",
        customer_ref="cus_RbQ9NewCustmr01",
        brand="Mastercard",
        last4="4444",
        exp_month=8,
        exp_year=2031,
        funding="credit",
    )
    assert client.sent[0].headers["Idempotency-Key"] == f"{KEY}-customer"
    assert client.sent[1].params["setup_future_usage"] == "off_session"
    client.assert_finished()


def test_lookup_finds_the_charge_made_with_a_key() -> None:
    gateway, client = replaying("lookup_found")
    found = gateway.lookup(KEY)
    assert found is not None
    assert (found.status, found.reference) == (ChargeStatus.SUCCEEDED, "pi_3QaZ0cF4kq1Rb2Xy0aB7cD9e")
    assert client.sent[0].params["query"] == f"metadata['idempotency_key']:'{KEY}'"


def test_lookup_of_a_key_stripe_never_saw_is_none() -> None:
    gateway, client = replaying("lookup_not_found")
    assert gateway.lookup(KEY) is None
    client.assert_finished()


def test_lookup_refuses_a_key_that_would_break_the_query() -> None:
    gateway, client = replaying("lookup_not_found")
    with pytest.raises(GatewayError):
        gateway.lookup("k' OR status:'succeeded")
    assert client.sent == []


def test_a_refund_is_made_once_per_key() -> None:
    gateway, client = replaying("refund")
    reference = gateway.refund(
        reference="pi_3QaZ0cF4kq1Rb2Xy0aB7cD9e", amount_cents=25_00, idempotency_key="refund-5kQ2vX9pL3mN7rT1"
    )
    assert reference == "re_3QaZ0cF4kq1Rb2Xy0Rfd2500"
    assert client.sent[0].headers["Idempotency-Key"] == "refund-5kQ2vX9pL3mN7rT1"
    client.assert_finished()


def test_a_refund_stripe_refuses_is_an_error() -> None:
    gateway, _client = replaying("refund_already_refunded")
    with pytest.raises(GatewayError, match="already been refunded"):
        gateway.refund(
            reference="pi_3QaZ0cF4kq1Rb2Xy0aB7cD9e",
            amount_cents=25_00,
            idempotency_key="refund-5kQ2vX9pL3mN7rT1",
        )


def test_saving_a_card_attaches_it_to_a_new_customer() -> None:
    gateway, client = replaying("save_card")
    saved = gateway.save_card(token="pm_1QaYzxF4kq1Rb2XyCard5556")
    assert saved == SavedMethod(
        "pm_1QaYzxF4kq1Rb2XyCard5556", "cus_RbQ9SavedCard02", "Visa", "5556", 3, 2029, "debit"
    )
    client.assert_finished()


@override_settings(STRIPE_PUBLISHABLE_KEY="pk_test_51QaYwv")
def test_the_card_form_is_stripe_elements_with_its_origins_allowed() -> None:
    gateway, _client = replaying("charge_succeeded")
    form = gateway.browser_form(None)
    assert form.template == "billing/gateways/stripe_card.html"
    assert form.context == {"publishable_key": "pk_test_51QaYwv"}
    assert "https://js.stripe.com" in form.script_origins
    assert "https://hooks.stripe.com" in form.frame_origins
    assert form.connect_origins == ("https://api.stripe.com",)
    html = render_to_string(form.template, form.context)
    assert 'data-publishable-key="pk_test_51QaYwv"' in html
    assert 'src="https://js.stripe.com/v3/"' in html
    assert "billing/js/stripe-card.js" in html
    assert "<script>" not in html  # no inline script under the CSP


def test_stripe_without_a_secret_key_is_a_configuration_error() -> None:
    with override_settings(STRIPE_SECRET_KEY=""), pytest.raises(ImproperlyConfigured):
        StripeGateway()
    with override_settings(STRIPE_SECRET_KEY="sk_test_configured"):
        assert isinstance(configured_gateway("stripe"), StripeGateway)


@pytest.mark.django_db
def test_paying_through_the_core_charges_once_across_a_timeout() -> None:
    bw = billing_world(make_world())
    alice = bw.world.alice
    bill(alice, 250_00, insurance_cents=150_00, adjustment_cents=20_00)
    account = alice.billing_account
    key = "e2e0ba5e4b7c9d2f6a1b3c5d7e9f0a12"
    gateway, client = replaying("pay_end_to_end", account_number=account.number, return_url=RETURN)
    request = payments.PaymentRequest(amount_cents=80_00, idempotency_key=key, token=PM)
    access = access_for(bw.world.alice_user, alice)

    first = payments.do_pay(Actor.system(), access, request, return_url=RETURN, gateway=gateway)
    assert first.status == Payment.Status.PENDING
    assert balance(alice) == 80_00

    again = payments.do_pay(Actor.system(), access, request, return_url=RETURN, gateway=gateway)
    client.assert_finished()
    assert again.pk == first.pk
    assert again.status == Payment.Status.SUCCEEDED
    assert (again.gateway, again.gateway_ref) == ("stripe", "pi_3QaZ0cF4kq1Rb2Xy0E2e4242")
    assert (again.brand, again.last4, again.funding) == ("Visa", "4242", "credit")
    assert again.receipt_number
    entries = LedgerEntry.objects.filter(payment=again)
    assert [(entry.kind, entry.amount_cents) for entry in entries] == [(LedgerEntry.Kind.PAYMENT, 80_00)]
    assert balance(alice) == 0
    assert_balanced(account)
    assert not SavedCard.objects.exists()
    # Both tries asked Stripe with the payment's own key.
    assert [sent.headers["Idempotency-Key"] for sent in client.sent] == [key, key]


@pytest.mark.django_db
def test_a_bank_check_through_the_core_is_finished_by_retrieving_the_intent() -> None:
    bw = billing_world(make_world())
    alice = bw.world.alice
    bill(alice, 100_00)
    gateway, client = replaying(
        "pay_bank_check", account_number=alice.billing_account.number, return_url=RETURN
    )
    request = payments.PaymentRequest(
        amount_cents=100_00,
        idempotency_key="e2e0c4ec0b7c9d2f6a1b3c5d7e9f0a34",
        token="pm_1QaYzxF4kq1Rb2Xy3ds23155",
    )
    payment = payments.do_pay(
        Actor.system(), access_for(bw.world.alice_user, alice), request, return_url=RETURN, gateway=gateway
    )
    assert payment.status == Payment.Status.REQUIRES_ACTION
    assert payment.next_action_url.startswith("https://hooks.stripe.com/")
    assert balance(alice) == 100_00
    done = payments.finish_authentication(Actor.system(), payment, gateway=gateway)
    client.assert_finished()
    assert done.status == Payment.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(payment=done, kind=LedgerEntry.Kind.PAYMENT).count() == 1
    assert balance(alice) == 0


def test_an_abandoned_bank_check_is_canceled() -> None:
    gateway, client = replaying("cancel_abandoned")
    result = gateway.cancel("pi_3QaZ0cF4kq1Rb2Xy03ds3155")
    assert (result.status, result.decline_code) == (ChargeStatus.FAILED, "canceled")
    client.assert_finished()


def test_a_bank_check_finished_just_before_the_cancel_is_paid() -> None:
    gateway, client = replaying("cancel_already_paid")
    result = gateway.cancel("pi_3QaZ0cF4kq1Rb2Xy0aB7cD9e")
    assert result.status == ChargeStatus.SUCCEEDED
    client.assert_finished()


def test_a_removed_card_is_detached_from_its_customer() -> None:
    gateway, client = replaying("forget_card")
    gateway.forget_card("pm_1QaYzxF4kq1Rb2XyCard5556")
    client.assert_finished()
