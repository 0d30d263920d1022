"""Refunds by the billing office: through the gateway, once per form, never more than was paid,
and a gateway that refuses changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from portal.audit.actor import Actor
from portal.billing import staff_actions
from portal.billing.gateways.base import GatewayError, GatewayUnavailable
from portal.billing.gateways.sandbox.gateway import SandboxGateway
from portal.billing.models import LedgerEntry, Payment, Refund, SandboxRefund
from portal.billing.tests.staff_support import account_url, as_user, paid, refund_url, written
from portal.billing.tests.support import (
    DECLINED,
    BillingWorld,
    access_for,
    assert_balanced,
    balance,
    bill,
    billing_world,
    pay,
)
from portal.notifications.models import Notification
from portal.test import World

pytestmark = pytest.mark.django_db

KEY = "refund-key-0123456789"


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def form(
    amount: str = "20.00", key: str = KEY, reason: str = "Charged twice for one visit"
) -> dict[str, Any]:
    return {"key": key, "amount": amount, "reason": reason}


def refunds_of(payment: Payment) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.REFUND))


def test_the_refund_page_offers_what_remains_with_a_fresh_key(bw: BillingWorld) -> None:
    payment = paid(bw)
    client = as_user(bw.clerk)
    first = client.get(refund_url(payment)).content.decode()
    assert "Up to $50.00." in first and 'name="key"' in first
    assert first != client.get(refund_url(payment)).content.decode()  # a new key each time


def test_a_part_refund_gives_money_back_once_and_raises_the_balance(bw: BillingWorld) -> None:
    payment = paid(bw)
    assert balance(bw.world.alice) == 50_00
    response = as_user(bw.clerk).post(refund_url(payment), form("20.00"))
    assert response.status_code == 302 and response["Location"] == account_url(bw.world.alice)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_cents) == (Payment.Status.PARTLY_REFUNDED, 20_00)
    refund = Refund.objects.get()
    assert (refund.amount_cents, refund.idempotency_key, refund.created_by) == (20_00, KEY, bw.clerk)
    assert refund.gateway_ref.startswith("re_sbx_")
    assert SandboxRefund.objects.get().amount_cents == 20_00
    [entry] = refunds_of(payment)
    assert (entry.amount_cents, entry.reason, entry.posted_by) == (
        20_00,
        "Charged twice for one visit",
        bw.clerk,
    )
    assert balance(bw.world.alice) == 70_00
    assert_balanced(payment.account)
    [started] = written("billing.staff_refund_start")
    [done] = written("billing.staff_refund")
    assert done.outcome == "success" and done.detail["amount_cents"] == 20_00
    assert started.patient_id == done.patient_id == bw.world.alice.pk
    assert Notification.objects.filter(recipient=bw.world.alice_user, title="Refund issued").exists()


def test_a_double_submit_refunds_once(bw: BillingWorld) -> None:
    payment = paid(bw)
    client = as_user(bw.clerk)
    assert client.post(refund_url(payment), form("20.00")).status_code == 302
    assert client.post(refund_url(payment), form("20.00")).status_code == 302
    assert Refund.objects.count() == 1 and SandboxRefund.objects.count() == 1
    assert len(refunds_of(payment)) == 1
    payment.refresh_from_db()
    assert payment.refunded_cents == 20_00
    assert balance(bw.world.alice) == 70_00


def test_the_rest_refunded_makes_the_payment_refunded(bw: BillingWorld) -> None:
    payment = paid(bw)
    client = as_user(bw.clerk)
    client.post(refund_url(payment), form("20.00"))
    client.post(refund_url(payment), form("30.00", key="second-key-0123456789"))
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_cents) == (Payment.Status.REFUNDED, 50_00)
    assert balance(bw.world.alice) == 100_00
    assert "Nothing more can be refunded" in client.get(refund_url(payment)).content.decode()


@pytest.mark.parametrize(
    "fields",
    [
        form("50.01"),
        form("99999999999"),
        form("-5.00"),
        form("0"),
        form("lots"),
        form("5.00", reason=""),
        form("5.00", key="short"),
        form("5.00", key="has spaces in it 0123456789"),
        form("5.00", key=""),
    ],
)
def test_bad_refunds_are_refused_and_change_nothing(bw: BillingWorld, fields: dict[str, str]) -> None:
    payment = paid(bw)
    response = as_user(bw.clerk).post(refund_url(payment), fields)
    assert response.status_code == 400
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_cents) == (Payment.Status.SUCCEEDED, 0)
    assert not Refund.objects.exists() and not SandboxRefund.objects.exists()
    assert balance(bw.world.alice) == 50_00


def test_more_than_remains_after_a_refund_is_refused(bw: BillingWorld) -> None:
    payment = paid(bw)
    client = as_user(bw.clerk)
    client.post(refund_url(payment), form("40.00"))
    response = client.post(refund_url(payment), form("10.01", key="second-key-0123456789"))
    assert response.status_code == 400
    assert "more than can be refunded" in response.content.decode()
    assert Refund.objects.count() == 1
    assert balance(bw.world.alice) == 90_00


def test_a_used_form_cannot_refund_another_amount(bw: BillingWorld) -> None:
    payment = paid(bw)
    client = as_user(bw.clerk)
    client.post(refund_url(payment), form("20.00"))
    response = client.post(refund_url(payment), form("25.00"))
    assert response.status_code == 400
    assert Refund.objects.count() == 1 and balance(bw.world.alice) == 70_00


def test_a_declined_payment_cannot_be_refunded(bw: BillingWorld) -> None:
    bill(bw.world.alice, 100_00)
    declined = pay(bw.world.alice_user, bw.world.alice, 40_00, number=DECLINED)
    response = as_user(bw.clerk).post(refund_url(declined), form("10.00"))
    assert response.status_code == 400
    assert not Refund.objects.exists() and balance(bw.world.alice) == 100_00


def test_a_gateway_that_refuses_changes_nothing(bw: BillingWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    payment = paid(bw)

    def refuse(self: Any, **kwargs: Any) -> str:
        raise GatewayError("charge is disputed")

    monkeypatch.setattr(SandboxGateway, "refund", refuse)
    response = as_user(bw.clerk).post(refund_url(payment), form("20.00"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "refused the refund" in page and "Nothing was refunded" in page
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_cents) == (Payment.Status.SUCCEEDED, 0)
    assert not Refund.objects.exists() and not refunds_of(payment)
    assert balance(bw.world.alice) == 50_00
    [failed] = written("billing.staff_refund")
    assert failed.outcome == "failure"


def test_a_gateway_that_does_not_answer_leaves_a_refund_to_finish_once(
    bw: BillingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = paid(bw)
    real_refund = SandboxGateway.refund
    calls: list[str] = []

    def answers_after_refunding(self: Any, **kwargs: Any) -> str:
        # The gateway gives the money back, but its answer is lost on the way.
        calls.append(kwargs["idempotency_key"])
        real_refund(self, **kwargs)
        raise GatewayUnavailable("timed out")

    monkeypatch.setattr(SandboxGateway, "refund", answers_after_refunding)
    client = as_user(bw.clerk)
    response = client.post(refund_url(payment), form("20.00"), follow=True)
    assert "the refund is waiting" in response.content.decode()
    waiting = Refund.objects.get()
    assert waiting.gateway_ref == "" and not refunds_of(payment)
    assert balance(bw.world.alice) == 50_00
    page = client.get(account_url(bw.world.alice)).content.decode()
    assert "Try the refund again" in page and f'value="{KEY}"' in page
    # While it waits, its amount is not free to refund again under another key.
    assert client.post(refund_url(payment), form("30.01", key="other-key-0123456789")).status_code == 400

    monkeypatch.setattr(SandboxGateway, "refund", real_refund)
    assert client.post(refund_url(payment), form("20.00")).status_code == 302
    waiting.refresh_from_db()
    assert waiting.gateway_ref.startswith("re_sbx_")
    assert SandboxRefund.objects.count() == 1 and len(refunds_of(payment)) == 1
    payment.refresh_from_db()
    assert payment.refunded_cents == 20_00 and balance(bw.world.alice) == 70_00
    assert calls == [KEY]


def test_the_action_refuses_a_payment_of_another_patient(bw: BillingWorld) -> None:
    payment = paid(bw)
    bob_access = access_for(bw.clerk, bw.world.bob)
    request = staff_actions.RefundRequest(amount_cents=10_00, reason="x", idempotency_key=KEY)
    with pytest.raises(staff_actions.BillingRefused):
        staff_actions.do_refund_payment(Actor(user=bw.clerk), bob_access, payment, request)
    assert not Refund.objects.exists()


def test_a_refund_the_processor_may_have_made_is_never_released(
    bw: BillingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = paid(bw)
    real_refund = SandboxGateway.refund

    def answers_after_refunding(self: Any, **kwargs: Any) -> str:
        real_refund(self, **kwargs)
        raise GatewayUnavailable("timed out")

    def refuses_to_repeat(self: Any, **kwargs: Any) -> str:
        raise GatewayError("charge already refunded")

    client = as_user(bw.clerk)
    monkeypatch.setattr(SandboxGateway, "refund", answers_after_refunding)
    client.post(refund_url(payment), form("20.00"))
    monkeypatch.setattr(SandboxGateway, "refund", refuses_to_repeat)
    response = client.post(refund_url(payment), form("20.00"), follow=True)
    assert "stays waiting" in response.content.decode()
    # The reservation stays, so its $20 is not refundable again under another key.
    assert Refund.objects.get().gateway_ref == ""
    monkeypatch.setattr(SandboxGateway, "refund", real_refund)
    assert client.post(refund_url(payment), form("30.01", key="other-key-0123456789")).status_code == 400
    assert SandboxRefund.objects.count() == 1
