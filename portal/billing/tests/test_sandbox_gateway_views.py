"""The sandbox processor's own pages: the tokens endpoint and the test bank's check."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.billing.models import Payment, SandboxCharge, SandboxToken
from portal.billing.tests.support import NEEDS_CHECK, VISA, BillingWorld, balance, bill, billing_world
from portal.billing.tests.test_pay_flow import card_token, pay_form, pay_page, signed_in

pytestmark = pytest.mark.django_db

NEXT_YEAR = timezone.now().year + 1


@pytest.fixture
def bw(world: Any) -> BillingWorld:
    return billing_world(world)


def post_card(client: Client, body: Any) -> Any:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(reverse("sandbox_gateway:tokens"), raw, content_type="application/json")


def test_a_card_becomes_a_token_and_its_number_is_not_kept(bw: BillingWorld) -> None:
    client = signed_in(bw.world.alice_user)
    response = post_card(
        client, {"number": "4242 4242 4242 4242", "exp_month": "4", "exp_year": "29", "cvc": "123"}
    )
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"token", "brand", "last4", "funding"}
    assert (
        answer["token"].startswith("tok_sbx_") and answer["last4"] == "4242" and answer["funding"] == "credit"
    )
    token = SandboxToken.objects.get(token=answer["token"])
    assert (token.exp_month, token.exp_year, token.reusable) == (4, 2029, False)
    assert VISA not in json.dumps([str(value) for value in token.__dict__.values()])


def test_a_reusable_token_for_saving_a_card(bw: BillingWorld) -> None:
    client = signed_in(bw.world.alice_user)
    answer = card_token(client, reusable=True)
    assert answer["token"].startswith("pm_sbx_")
    assert SandboxToken.objects.get(token=answer["token"]).reusable


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"number": "4242424242424241", "exp_month": 12, "exp_year": NEXT_YEAR, "cvc": "123"}, "not valid"),
        ({"number": "4242424242424242", "exp_month": 13, "exp_year": NEXT_YEAR, "cvc": "123"}, "expiry"),
        ({"number": "4242424242424242", "exp_month": 1, "exp_year": 2001, "cvc": "123"}, "expired"),
        ({"number": "4242424242424242", "exp_month": 1, "exp_year": 99999, "cvc": "123"}, "expiry"),
        ({"number": "4242424242424242", "exp_month": 1, "exp_year": 10**30, "cvc": "123"}, "expiry"),
        ({"number": "4242424242424242", "exp_month": True, "exp_year": NEXT_YEAR, "cvc": "123"}, "expiry"),
        ({"number": "4242424242424242", "exp_month": 1.5, "exp_year": NEXT_YEAR, "cvc": "123"}, "expiry"),
        ({"number": "4242424242424242", "exp_month": 1, "exp_year": NEXT_YEAR, "cvc": "12"}, "security code"),
        ({"number": "4242424242424242", "exp_month": 1, "exp_year": NEXT_YEAR}, "security code"),
        (
            {"number": "4242424242424242", "exp_month": 1, "exp_year": NEXT_YEAR, "cvc": ["1"]},
            "security code",
        ),
        ({"number": "1" * 5000, "exp_month": 1, "exp_year": NEXT_YEAR, "cvc": "123"}, "card number"),
        ({"number": None, "exp_month": 1, "exp_year": NEXT_YEAR, "cvc": "123"}, "card number"),
        ({"number": "abc", "exp_month": 1, "exp_year": NEXT_YEAR, "cvc": "123"}, "not valid"),
        ({"number": "9999999999999995", "exp_month": 1, "exp_year": NEXT_YEAR, "cvc": "123"}, "We accept"),
        ([1, 2, 3], "card details"),
        ("not json", "card details"),
        (b"\xff\xfe", "card details"),
        ("", "card details"),
        ("null", "card details"),
    ],
)
def test_bad_card_details_are_a_400_with_a_reason(bw: BillingWorld, body: Any, error: str) -> None:
    response = post_card(signed_in(bw.world.alice_user), body)
    assert response.status_code == 400
    assert error in response.json()["error"]
    assert not SandboxToken.objects.exists()


def test_anonymous_visitors_and_other_methods_are_refused(bw: BillingWorld) -> None:
    card = {"number": VISA, "exp_month": 1, "exp_year": NEXT_YEAR, "cvc": "123"}
    response = post_card(Client(), card)
    assert response.status_code == 401 and "error" in response.json()
    assert signed_in(bw.world.alice_user).get(reverse("sandbox_gateway:tokens")).status_code == 405
    assert not SandboxToken.objects.exists()


def test_the_tokens_endpoint_needs_the_csrf_token(bw: BillingWorld) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(bw.world.alice_user)
    card = {"number": VISA, "exp_month": 1, "exp_year": NEXT_YEAR, "cvc": "123"}
    assert post_card(client, card).status_code == 403
    bill(bw.world.alice, 10_00)
    page = client.get(reverse("billing:pay"))
    csrf = page.context["csrf_token"]
    response = client.post(
        reverse("sandbox_gateway:tokens"),
        json.dumps(card),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=str(csrf),
    )
    assert response.status_code == 200 and response.json()["token"]


# The test bank ------------------------------------------------------------------------------------


def waiting_payment(bw: BillingWorld) -> tuple[Client, Payment, str]:
    bill(bw.world.alice, 100_00)
    client = signed_in(bw.world.alice_user)
    response = pay_page(client, pay_form(card_token(client, NEEDS_CHECK)))
    return client, Payment.objects.get(), response["Location"]


def test_only_the_payer_may_answer_the_bank_check(bw: BillingWorld) -> None:
    _client, payment, bank = waiting_payment(bw)
    for user in (bw.world.bob_user, bw.payer, bw.world.proxy_user, bw.clerk, bw.world.admin):
        other = signed_in(user)
        assert other.get(bank).status_code == 404
        assert other.post(bank, {"decision": "confirm"}).status_code == 404
    anonymous = Client().post(bank, {"decision": "confirm"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert SandboxCharge.objects.get().status == "requires_action"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_ACTION and balance(bw.world.alice) == 100_00


def test_an_unknown_reference_is_a_404(bw: BillingWorld) -> None:
    client = signed_in(bw.world.alice_user)
    assert client.get(reverse("sandbox_gateway:authenticate", args=["ch_sbx_nothing"])).status_code == 404
    assert client.get(reverse("sandbox_gateway:authenticate", args=["x" * 500])).status_code == 404


def test_the_bank_sends_back_only_to_this_site(bw: BillingWorld) -> None:
    client, payment, bank = waiting_payment(bw)
    base = bank.split("?")[0]
    own_return = reverse("billing:payment_return", args=[payment.pk])
    for target in (
        "https://evil.example/steal",
        "//evil.example/x",
        "javascript:alert(1)",
        "/\\evil.example",
    ):
        response = client.get(base, {"return": target})
        assert response.status_code == 200
        assert "evil" not in response.context["back"] and response.context["back"] == own_return
    response = client.post(base + "?return=http://testserver/billing/?x=1", {"decision": "confirm"})
    assert response["Location"] == "/billing/?x=1"


def test_a_nonsense_answer_changes_nothing_and_a_second_answer_is_ignored(bw: BillingWorld) -> None:
    client, _payment, bank = waiting_payment(bw)
    assert client.post(bank, {"decision": "maybe"}).status_code == 400
    assert SandboxCharge.objects.get().status == "requires_action"
    client.post(bank, {"decision": "fail"})
    response = client.post(bank, {"decision": "confirm"})
    assert response.status_code == 302
    assert SandboxCharge.objects.get().status == "declined"
    page = client.get(bank)
    assert "already been answered" in page.content.decode()
