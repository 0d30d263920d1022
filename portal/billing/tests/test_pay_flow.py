"""Paying through the pages: tokenise at the sandbox, review, pay, see the receipt."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.billing import ledger, statements
from portal.billing.gateways.base import BrowserForm, GatewayUnavailable
from portal.billing.gateways.sandbox.gateway import SandboxGateway
from portal.billing.models import Account, LedgerEntry, Payment, SandboxCharge
from portal.billing.tests.support import (
    DECLINED,
    FAILS_LATER,
    HSA,
    NEEDS_CHECK,
    NO_FUNDS,
    VISA,
    BillingWorld,
    assert_balanced,
    balance,
    bill,
    billing_world,
    new_key,
)
from portal.test import query_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world: Any) -> BillingWorld:
    return billing_world(world)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def card_token(client: Client, number: str = VISA, **extra: Any) -> dict[str, Any]:
    """Tokenise a card the way sandbox-card.js does: JSON to the sandbox's endpoint."""
    card = {
        "number": number,
        "exp_month": 12,
        "exp_year": timezone.now().year + 2,
        "cvc": "1234" if number.startswith("3") else "123",
        **extra,
    }
    response = client.post(
        reverse("sandbox_gateway:tokens"), json.dumps(card), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    return answer


def pay_form(
    card: dict[str, Any] | None = None,
    *,
    amount: str = "balance",
    other: str = "",
    method: str = "card",
    key: str | None = None,
    step: str = "pay",
    save: bool = False,
    statement: int | None = None,
) -> dict[str, Any]:
    """The pay form as the browser posts it (the token put there by the card form's script)."""
    form: dict[str, Any] = {
        "amount_choice": amount,
        "other_amount": other,
        "method": method,
        "key": key or new_key(),
        "step": step,
        "token": card["token"] if card else "",
        "card_brand": card["brand"] if card else "",
        "card_last4": card["last4"] if card else "",
    }
    if save:
        form["save_card"] = "on"
    if statement is not None:
        form["statement"] = statement
    return form


def pay_page(client: Client, form: dict[str, Any]) -> Any:
    """Post the form; a pay step goes through the confirm step first, as the browser does,
    carrying what the confirm step showed (the amount and the patient)."""
    if form.get("step") == "pay" and "confirmed_cents" not in form:
        review = client.post(reverse("billing:pay"), {**form, "step": "review"})
        shown = dict(re.findall(r'name="(confirmed_cents|patient)" value="(\d+)"', review.content.decode()))
        form = {**form, **shown}
    return client.post(reverse("billing:pay"), form)


def rendered_key(response: Any) -> str:
    found = re.search(r'name="key" value="([0-9a-f]{32})"', response.content.decode())
    assert found, "the page has no idempotency key"
    return found.group(1)


# The whole flow --------------------------------------------------------------------------------


def test_a_patient_pays_the_balance_and_gets_a_receipt(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 250_00, insurance_cents=150_00, adjustment_cents=20_00)
    client = signed_in(bw.world.alice_user)
    page = client.get(reverse("billing:pay"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "The full balance: $80.00" in text and "Test cards (sandbox)" in text
    assert "data-sandbox-card" in text and 'id="sandbox-card-number"' in text
    # The card inputs have no name: the card number can never be posted to the portal.
    assert not re.search(r'<input[^>]*name="[^"]*"[^>]*data-card-number', text)
    key = rendered_key(page)

    card = card_token(client)
    assert (card["brand"], card["last4"]) == ("Visa", "4242")
    review = pay_page(client, pay_form(card, key=key, step="review"))
    assert review.status_code == 200
    account = ledger.account_for(alice)
    assert (
        f"You are paying <strong>$80.00</strong> from <strong>Visa ending 4242</strong> for account <strong>{account.number}</strong>"
        in review.content.decode()
    )
    assert rendered_key(review) == key
    assert balance(alice) == 80_00 and not Payment.objects.exists()

    paid = pay_page(client, pay_form(card, key=key))
    payment = Payment.objects.get()
    assert paid.status_code == 302 and paid["Location"] == reverse("billing:payment", args=[payment.pk])
    assert payment.status == Payment.Status.SUCCEEDED and payment.created_by == bw.world.alice_user
    assert balance(alice) == 0
    assert_balanced(payment.account)

    receipt = client.get(paid["Location"]).content.decode()
    assert payment.receipt_number and payment.receipt_number in receipt
    assert (
        "Thank you, we received your payment." in receipt
        and "$80.00" in receipt
        and "Visa ending 4242" in receipt
    )
    assert account.number in receipt and "Download receipt (PDF)" in receipt
    assert AuditEvent.objects.filter(action="billing.receipt_view", patient_id=alice.pk).exists()

    pdf = client.get(reverse("billing:receipt_pdf", args=[payment.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "attachment" in pdf["Content-Disposition"]
    words = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert payment.receipt_number in words and "$80.00" in words


def test_the_statement_link_preselects_what_is_left_on_it(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 60_00)
    statement = statements.issue_statement(ledger.account_for(alice))
    bill(alice, 40_00)
    client = signed_in(bw.world.alice_user)
    text = client.get(reverse("billing:pay") + f"?statement={statement.pk}").content.decode()
    assert f"What is left on statement {statement.number}: $60.00" in text
    assert re.search(r'value="statement"[^>]*checked', text)
    card = card_token(client)
    response = pay_page(client, pay_form(card, amount="statement", statement=statement.pk))
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.amount_cents, payment.statement) == (60_00, statement)
    assert balance(alice) == 40_00


def test_another_patients_statement_is_a_404(bw: BillingWorld) -> None:
    bill(bw.world.bob, 60_00)
    bobs = statements.issue_statement(ledger.account_for(bw.world.bob))
    bill(bw.world.alice, 10_00)
    client = signed_in(bw.world.alice_user)
    assert client.get(reverse("billing:pay") + f"?statement={bobs.pk}").status_code == 404
    assert client.get(reverse("billing:pay") + "?statement=abc").status_code == 404
    card = card_token(client)
    response = pay_page(client, pay_form(card, amount="statement", statement=bobs.pk))
    assert response.status_code == 404
    assert not Payment.objects.exists()


def test_an_hsa_card_is_recorded_as_one(bw: BillingWorld) -> None:
    bill(bw.world.alice, 30_00)
    client = signed_in(bw.world.alice_user)
    card = card_token(client, HSA)
    review = pay_page(client, pay_form(card, method="hsa", step="review"))
    assert "(health savings account)" in review.content.decode()
    pay_page(client, pay_form(card, method="hsa"))
    assert Payment.objects.get().funding == "hsa"


# Declines and refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (DECLINED, "Your bank declined this card. You have not been charged."),
        (NO_FUNDS, "The card does not have enough money available. You have not been charged."),
    ],
)
def test_a_declined_card_says_why_and_changes_nothing(bw: BillingWorld, number: str, words: str) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    client = signed_in(bw.world.alice_user)
    form = pay_form(card_token(client, number))
    response = pay_page(client, form)
    assert response.status_code == 400
    text = response.content.decode()
    assert 'role="alert"' in text and words in text and "Your balance is still $100.00." in text
    assert rendered_key(response) != form["key"], "a declined form must get a new key"
    assert balance(alice) == 100_00
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).exists()
    assert Payment.objects.get().status == Payment.Status.DECLINED


def test_the_same_form_posted_twice_pays_once(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    client = signed_in(bw.world.alice_user)
    form = pay_form(card_token(client), amount="other", other="40.00")
    first = pay_page(client, form)
    again = pay_page(client, form)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    assert Payment.objects.count() == 1
    assert SandboxCharge.objects.filter(idempotency_key=form["key"]).count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT, payer="patient").count() == 1
    assert balance(alice) == 60_00


def test_a_reused_key_with_another_amount_is_refused(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    client = signed_in(bw.world.alice_user)
    form = pay_form(card_token(client), amount="other", other="40.00")
    pay_page(client, form)
    response = pay_page(client, {**form, "other_amount": "50.00", "token": card_token(client)["token"]})
    assert response.status_code == 400
    text = response.content.decode()
    assert "This payment form was already used for a different payment." in text
    assert rendered_key(response) != form["key"]
    assert Payment.objects.count() == 1 and balance(alice) == 60_00


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("100.01", "That is more than you owe ($100.00)."),
        ("0", "Enter an amount more than $0.00."),
        ("0.00", "Enter an amount more than $0.00."),
        ("-5", "no more than two decimals"),
        ("abc", "no more than two decimals"),
        ("1.234", "no more than two decimals"),
        ("", "Enter the amount you want to pay."),
        ("9" * 29, "no more than two decimals"),
        ("9" * 40, "at most 30 characters"),
    ],
)
def test_a_bad_amount_is_a_form_error(bw: BillingWorld, typed: str, error: str) -> None:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    for step in ("review", "pay"):
        response = pay_page(client, pay_form(card_token(client), amount="other", other=typed, step=step))
        assert response.status_code == 400
        assert error in response.content.decode()
    assert not Payment.objects.exists() and not SandboxCharge.objects.exists()
    assert balance(bw.world.alice) == 100_00


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_choice": "everything"},
        {"method": "saved-999"},
        {"method": ""},
        {"key": "short"},
        {"key": "x" * 5000},
        {"token": ""},
        {"token": "<script>"},
        {"step": "nonsense", "token": ""},
        {"card_last4": "abcdefgh", "card_brand": "x" * 500, "step": "review"},
    ],
)
def test_tampered_forms_are_refused_without_a_charge(bw: BillingWorld, changes: dict[str, str]) -> None:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    response = pay_page(client, {**pay_form(card_token(client)), **changes})
    if "card_last4" in changes:
        assert response.status_code == 200 and "Visa" not in response.content.decode()
        return
    assert response.status_code == 400
    assert not Payment.objects.exists() and balance(bw.world.alice) == 100_00


def test_a_card_without_javascript_says_how_else_to_pay(bw: BillingWorld) -> None:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    text = client.get(reverse("billing:pay")).content.decode()
    assert "<noscript>" in text and "Paying by card needs JavaScript" in text
    assert "By bank transfer (wire)" in text and "By check in the mail" in text
    response = pay_page(client, pay_form(None, step="review"))
    assert response.status_code == 400
    assert "Paying by card needs JavaScript turned on" in response.content.decode()


def test_nothing_to_pay_shows_no_form(bw: BillingWorld) -> None:
    from portal.billing.models import Account
    from portal.billing.tests.support import pay

    client = signed_in(bw.world.alice_user)
    response = client.get(reverse("billing:pay"), follow=True)
    text = response.content.decode()
    assert "You have nothing to pay right now." in text and 'name="amount_choice"' not in text
    # Looking opened no account.
    assert not Account.objects.filter(patient=bw.world.alice).exists()
    # An account paid up: the pay page itself says so.
    bill(bw.world.alice, 10_00)
    pay(bw.world.alice_user, bw.world.alice, 10_00)
    text = client.get(reverse("billing:pay")).content.decode()
    assert "You have nothing to pay right now." in text and 'name="amount_choice"' not in text


# The bank's check ------------------------------------------------------------------------------------


def test_a_bank_check_is_confirmed_and_the_payment_completes(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    client = signed_in(bw.world.alice_user)
    response = pay_page(client, pay_form(card_token(client, NEEDS_CHECK)))
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.REQUIRES_ACTION
    assert response.status_code == 302 and response["Location"] == payment.next_action_url
    bank = client.get(response["Location"])
    assert bank.status_code == 200
    text = bank.content.decode()
    assert "Your bank asks you to confirm a payment of $100.00" in text and "Test bank" in text
    assert balance(alice) == 100_00

    back = client.post(response["Location"], {"decision": "confirm"})
    assert back.status_code == 302
    assert back["Location"] == reverse("billing:payment_return_key", args=[payment.idempotency_key])
    receipt = client.get(back["Location"])
    assert receipt["Location"] == reverse("billing:payment", args=[payment.pk])
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.receipt_number
    assert balance(alice) == 0
    assert "Thank you, we received your payment." in client.get(receipt["Location"]).content.decode()


def test_a_failed_bank_check_charges_nothing(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    client = signed_in(bw.world.alice_user)
    response = pay_page(client, pay_form(card_token(client, NEEDS_CHECK)))
    back = client.post(response["Location"], {"decision": "fail"})
    client.get(back["Location"])
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.DECLINED
    text = client.get(reverse("billing:payment", args=[payment.pk])).content.decode()
    assert "Your bank&#x27;s check was not completed. You have not been charged." in text
    assert balance(alice) == 100_00


def test_reloading_the_pay_post_during_a_bank_check_goes_back_to_the_bank(bw: BillingWorld) -> None:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    form = pay_form(card_token(client, NEEDS_CHECK))
    first = pay_page(client, form)
    again = pay_page(client, form)
    assert first["Location"] == again["Location"]
    assert Payment.objects.count() == 1 and SandboxCharge.objects.count() == 1


# Who may pay and see receipts ---------------------------------------------------------------------


def paid_by_alice(bw: BillingWorld) -> Payment:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    pay_page(client, pay_form(card_token(client), amount="other", other="10.00"))
    return Payment.objects.get()


def test_a_billing_proxy_pays_for_the_patient(bw: BillingWorld) -> None:
    payment = paid_by_alice(bw)
    client = signed_in(bw.payer)
    assert client.get(reverse("billing:pay")).status_code == 200
    response = pay_page(client, pay_form(card_token(client), amount="other", other="15.00"))
    assert response.status_code == 302
    theirs = Payment.objects.exclude(pk=payment.pk).get()
    assert theirs.created_by == bw.payer and theirs.account == payment.account
    assert balance(bw.world.alice) == 75_00
    text = client.get(response["Location"]).content.decode()
    assert "Greta Able" in text
    assert client.get(reverse("billing:payment", args=[payment.pk])).status_code == 200


def test_another_patient_and_a_proxy_without_billing_get_404(bw: BillingWorld) -> None:
    payment = paid_by_alice(bw)
    missing = 987654321
    for user in (bw.world.bob_user, bw.world.proxy_user):
        client = signed_in(user)
        for name in ("billing:payment", "billing:receipt_pdf", "billing:payment_return"):
            assert client.get(reverse(name, args=[payment.pk])).status_code == 404
            assert client.get(reverse(name, args=[missing])).status_code == 404
    refused = AuditEvent.objects.filter(action="access.refused", patient_id=bw.world.alice.pk)
    assert refused.count() >= 6


def test_a_proxy_without_billing_has_no_pay_page(bw: BillingWorld) -> None:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.proxy_user)
    assert client.get(reverse("billing:pay")).status_code == 403
    response = pay_page(client, pay_form(card_token(client)))
    assert response.status_code == 403
    assert client.get(reverse("billing:how_to_pay")).status_code == 403
    assert not Payment.objects.exists()


def test_staff_are_sent_to_their_workspace(bw: BillingWorld) -> None:
    payment = paid_by_alice(bw)
    for user in (bw.world.clinician, bw.world.unassigned_staff, bw.world.admin, bw.clerk):
        client = signed_in(user)
        for url in (
            reverse("billing:pay"),
            reverse("billing:how_to_pay"),
            reverse("billing:payment", args=[payment.pk]),
            reverse("billing:receipt_pdf", args=[payment.pk]),
        ):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"] == reverse("staff:home"), url
        assert pay_page(client, pay_form(card_token(client))).status_code == 302
    assert Payment.objects.count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(bw: BillingWorld) -> None:
    payment = paid_by_alice(bw)
    client = Client()
    for url in (
        reverse("billing:pay"),
        reverse("billing:how_to_pay"),
        reverse("billing:payment", args=[payment.pk]),
        reverse("billing:receipt_pdf", args=[payment.pk]),
        reverse("billing:payment_return", args=[payment.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(reverse("billing:pay"), pay_form(None)).status_code == 302
    assert Payment.objects.count() == 1


def test_a_declined_payment_has_no_receipt_pdf(bw: BillingWorld) -> None:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    pay_page(client, pay_form(card_token(client, DECLINED)))
    payment = Payment.objects.get()
    text = client.get(reverse("billing:payment", args=[payment.pk])).content.decode()
    assert (
        "Declined.</strong> Your bank declined this card. You have not been charged." in text
        and "Download receipt" not in text
    )
    assert client.get(reverse("billing:receipt_pdf", args=[payment.pk])).status_code == 404


def test_how_to_pay_gives_the_account_number_for_the_reference(bw: BillingWorld, settings: Any) -> None:
    settings.PORTAL_WIRE_SWIFT = "TESTUS33"
    bill(bw.world.alice, 10_00)
    text = signed_in(bw.world.alice_user).get(reverse("billing:how_to_pay")).content.decode()
    number = ledger.account_for(bw.world.alice).number
    assert "TESTUS33" in text and settings.PORTAL_WIRE_ROUTING in text and settings.PORTAL_PAYEE_NAME in text
    assert f"Put your account number <strong>{number}</strong> in the transfer" in text
    assert f"Write your account number <strong>{number}</strong> on the check." in text


def test_pages_that_only_read_never_open_a_billing_account(bw: BillingWorld) -> None:
    # A patient never billed: how to pay quotes her clinic number, the plan pages say there
    # is nothing to split, and none of these GETs opens an account (a GET writes nothing).
    alice = bw.world.alice
    assert not Account.objects.filter(patient=alice).exists()
    client = signed_in(bw.world.alice_user)
    text = client.get(reverse("billing:how_to_pay")).content.decode()
    assert f"Write your clinic number <strong>{alice.clinic_number}</strong> on the check." in text
    assert "Always give your clinic number" in text
    for name in ("billing:plans", "billing:plan_new"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert "A payment plan is for a balance of" in response.content.decode()
    assert not Account.objects.filter(patient=alice).exists()


def test_the_pay_page_runs_a_bounded_number_of_queries(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 10_00)
    statements.issue_statement(ledger.account_for(alice))
    client = signed_in(bw.world.alice_user)
    client.get(reverse("billing:pay"))  # settle the session's acting-for choice
    small = query_count(lambda: client.get(reverse("billing:pay")))
    for day in range(30):
        bill(alice, 10_00 + day, code=f"9{day:04d}")
        statements.issue_statement(ledger.account_for(alice))
        pay_page(client, pay_form(card_token(client), amount="other", other="1.00", save=day < 5))
    large = query_count(lambda: client.get(reverse("billing:pay")))
    assert large == small, f"{small} queries with a short history, {large} with a long one"


# The gateway's side: no answer, a processor failure, its own origins -------------------------------


def test_a_gateway_that_does_not_answer_leaves_a_processing_receipt(
    bw: BillingWorld, monkeypatch: Any
) -> None:
    def no_answer(self: SandboxGateway, **kwargs: Any) -> Any:
        raise GatewayUnavailable("timed out")

    monkeypatch.setattr(SandboxGateway, "charge", no_answer)
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    response = pay_page(client, pay_form(card_token(client)))
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PENDING
    assert response["Location"] == reverse("billing:payment", args=[payment.pk])
    text = client.get(response["Location"]).content.decode()
    assert (
        "Processing." in text and "has not confirmed this payment yet" in text and "do not pay again" in text
    )
    assert "Download receipt" not in text and balance(bw.world.alice) == 100_00


def test_a_processor_failure_says_nothing_was_charged(bw: BillingWorld) -> None:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    response = pay_page(client, pay_form(card_token(client, FAILS_LATER)))
    assert response.status_code == 400
    assert "The card processor had a problem and did not take the payment." in response.content.decode()
    assert Payment.objects.get().status == Payment.Status.FAILED and balance(bw.world.alice) == 100_00


def test_the_gateways_own_origins_are_allowed_on_the_pay_page_only(
    bw: BillingWorld, monkeypatch: Any
) -> None:
    def browser_form(self: SandboxGateway, request: Any) -> BrowserForm:
        return BrowserForm(
            template="billing/gateways/sandbox_card.html",
            context={"tokens_url": "/x/"},
            script_origins=("https://js.processor.example",),
            frame_origins=("https://frames.processor.example",),
            connect_origins=("https://api.processor.example",),
        )

    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    plain = client.get(reverse("billing:pay"))["Content-Security-Policy"]
    assert "processor.example" not in plain
    monkeypatch.setattr(SandboxGateway, "browser_form", browser_form)
    policy = dict(
        part.strip().split(" ", 1)
        for part in client.get(reverse("billing:pay"))["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self' https://js.processor.example"
    assert policy["frame-src"] == "'self' https://frames.processor.example"
    assert policy["connect-src"] == "'self' https://api.processor.example"
    assert "processor.example" not in client.get(reverse("billing:how_to_pay"))["Content-Security-Policy"]


def test_a_balance_that_changed_since_the_confirm_step_is_not_charged(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 80_00)
    client = signed_in(bw.world.alice_user)
    form = pay_form(card_token(client))
    review = client.post(reverse("billing:pay"), {**form, "step": "review"})
    shown = dict(re.findall(r'name="(confirmed_cents|patient)" value="(\d+)"', review.content.decode()))
    assert shown["confirmed_cents"] == "8000"
    bill(alice, 4_920_00)  # a new charge lands between the confirm step and Pay
    response = client.post(reverse("billing:pay"), {**form, **shown})
    assert response.status_code == 400
    assert "nothing was charged" in response.content.decode()
    assert not Payment.objects.exists()
    assert balance(alice) == 5_000_00


def test_a_reload_of_a_paid_form_shows_the_receipt(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 80_00)
    client = signed_in(bw.world.alice_user)
    form = pay_form(card_token(client))
    first = pay_page(client, form)
    payment = Payment.objects.get()
    again = client.post(reverse("billing:pay"), {**form, "confirmed_cents": "8000", "patient": str(alice.pk)})
    assert first["Location"] == again["Location"] == reverse("billing:payment", args=[payment.pk])
    assert Payment.objects.count() == 1


def test_a_clinic_without_a_card_processor_shows_the_other_ways_to_pay(
    bw: BillingWorld, settings: Any
) -> None:
    settings.PORTAL_PAYMENT_GATEWAY = ""
    bill(bw.world.alice, 80_00)
    client = signed_in(bw.world.alice_user)
    response = client.get(reverse("billing:pay"), follow=True)
    assert response.redirect_chain == [(reverse("billing:how_to_pay"), 302)]
    text = response.content.decode()
    assert "does not take card payments online" in text and "Pay online by card" not in text
    assert client.get(reverse("billing:plan_new")).status_code == 200
    assert client.get(reverse("billing:cards")).status_code == 200
