"""Saved cards: saving one while paying, paying with it, adding and removing one, and who sees them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.billing import ledger
from portal.billing.models import Payment, PaymentPlan, SandboxCharge, SandboxToken, SavedCard
from portal.billing.tests.support import BillingWorld, balance, bill, billing_world
from portal.billing.tests.test_pay_flow import card_token, pay_form, pay_page, signed_in
from portal.patients.models import ProxyGrant, Scope
from portal.patients.tests.support import sign_in_recently
from portal.test import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world: Any) -> BillingWorld:
    return billing_world(world)


def recently(user: Any) -> Client:
    client = Client()
    sign_in_recently(client, user)
    return client


def save_while_paying(bw: BillingWorld, user: Any = None) -> tuple[Client, SavedCard]:
    bill(bw.world.alice, 100_00)
    client = signed_in(user or bw.world.alice_user)
    response = pay_page(client, pay_form(card_token(client), amount="other", other="10.00", save=True))
    assert response.status_code == 302
    return client, SavedCard.objects.get()


def test_a_card_saved_while_paying_pays_again_without_typing_it(bw: BillingWorld) -> None:
    client, card = save_while_paying(bw)
    assert (card.owner, card.brand, card.last4, card.removed_at) == (
        bw.world.alice_user,
        "Visa",
        "4242",
        None,
    )
    page = client.get(reverse("billing:pay")).content.decode()
    assert f'value="saved-{card.pk}"' in page and "Visa ending 4242, expires 12/" in page
    method = f"saved-{card.pk}"
    review = pay_page(client, pay_form(None, amount="other", other="20.00", method=method, step="review"))
    assert review.status_code == 200 and "from <strong>Visa ending 4242" in review.content.decode()
    response = pay_page(client, pay_form(None, amount="other", other="20.00", method=method))
    assert response.status_code == 302
    second = Payment.objects.order_by("-id").first()
    assert second is not None and second.saved_card == card and second.status == Payment.Status.SUCCEEDED
    assert SandboxCharge.objects.get(idempotency_key=second.idempotency_key).token == card.method_ref
    assert balance(bw.world.alice) == 70_00


def test_the_card_list_shows_the_users_cards_only(bw: BillingWorld) -> None:
    client, card = save_while_paying(bw)
    text = client.get(reverse("billing:cards")).content.decode()
    assert "Visa ending 4242" in text and f"Expires 12/{card.exp_year}" in text and "Credit card" in text
    assert reverse("billing:remove_card", args=[card.pk]) in text
    for user in (bw.payer, bw.world.bob_user):
        other = signed_in(user).get(reverse("billing:cards")).content.decode()
        assert "4242" not in other and "You have no saved cards." in other
        pay = signed_in(user).get(reverse("billing:pay")).content.decode()
        assert f"saved-{card.pk}" not in pay


def test_a_card_belongs_to_the_card_holder_whoever_they_pay_for(bw: BillingWorld) -> None:
    child = make_patient("10000009", "Cody", "Able", bw.world.campus)
    ProxyGrant.objects.create(
        grantee=bw.payer,
        patient=child,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW, Scope.BILLING],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    bill(child, 50_00)
    client, card = save_while_paying(bw, bw.payer)
    assert card.owner == bw.payer
    session = client.session
    session["acting_for_patient"] = child.pk
    session.save()
    page = client.get(reverse("billing:pay")).content.decode()
    assert f'value="saved-{card.pk}"' in page and ledger.account_for(child).number in page
    pay_page(client, pay_form(None, amount="balance", method=f"saved-{card.pk}"))
    assert balance(child) == 0


def test_removing_a_card_needs_a_recent_sign_in_and_is_audited(bw: BillingWorld) -> None:
    client, card = save_while_paying(bw)
    url = reverse("billing:remove_card", args=[card.pk])
    response = client.post(url)
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    card.refresh_from_db()
    assert card.removed_at is None
    fresh = recently(bw.world.alice_user)
    response = fresh.post(url)
    assert response["Location"] == reverse("billing:cards")
    card.refresh_from_db()
    assert card.removed_at is not None
    # The processor forgot it too: it can never be charged again, even by a stale plan.
    assert not SandboxToken.objects.get(token=card.method_ref).reusable
    event = AuditEvent.objects.get(action="billing.card_remove")
    assert event.patient_id == bw.world.alice.pk and event.detail["last4"] == "4242"
    assert "The card ending 4242 is removed." in fresh.get(reverse("billing:cards")).content.decode()
    assert "4242" not in fresh.get(reverse("billing:cards")).content.decode()
    assert f"saved-{card.pk}" not in fresh.get(reverse("billing:pay")).content.decode()
    refused = pay_page(fresh, pay_form(None, amount="other", other="5.00", method=f"saved-{card.pk}"))
    assert refused.status_code == 400 and "Choose one of the options shown." in refused.content.decode()
    assert fresh.post(url).status_code == 404
    assert fresh.get(url).status_code == 405


def test_nobody_else_can_remove_a_card(bw: BillingWorld) -> None:
    _client, card = save_while_paying(bw)
    for user in (bw.payer, bw.world.bob_user):
        assert recently(user).post(reverse("billing:remove_card", args=[card.pk])).status_code == 404
    assert (
        recently(bw.world.alice_user).post(reverse("billing:remove_card", args=[987654321])).status_code
        == 404
    )
    card.refresh_from_db()
    assert card.removed_at is None


def test_a_card_paying_a_plan_is_not_removed(bw: BillingWorld) -> None:
    _client, card = save_while_paying(bw)
    PaymentPlan.objects.create(
        account=ledger.account_for(bw.world.alice), total_cents=90_00, instalment_count=3, saved_card=card
    )
    client = recently(bw.world.alice_user)
    response = client.post(reverse("billing:remove_card", args=[card.pk]), follow=True)
    assert "This card pays a payment plan." in response.content.decode()
    card.refresh_from_db()
    assert card.removed_at is None


def test_adding_a_card_without_paying(bw: BillingWorld) -> None:
    client = recently(bw.world.alice_user)
    page = client.get(reverse("billing:add_card"))
    assert page.status_code == 200
    assert 'data-reusable="true"' in page.content.decode()
    token = card_token(client, "5555555555554444", reusable=True)
    response = client.post(reverse("billing:add_card"), {"token": token["token"]})
    assert response["Location"] == reverse("billing:cards")
    card = SavedCard.objects.get()
    assert (card.owner, card.brand, card.last4) == (bw.world.alice_user, "Mastercard", "4444")
    assert not SandboxCharge.objects.exists() and not Payment.objects.exists()
    assert AuditEvent.objects.filter(action="billing.card_save", patient_id=bw.world.alice.pk).exists()


@pytest.mark.parametrize("token", ["", "tok_sbx_unknown", "<b>", "x" * 500])
def test_adding_a_card_with_a_bad_token_says_so(bw: BillingWorld, token: str) -> None:
    client = recently(bw.world.alice_user)
    response = client.post(reverse("billing:add_card"), {"token": token})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not SavedCard.objects.exists()


def test_adding_a_card_needs_a_recent_sign_in(bw: BillingWorld) -> None:
    client = signed_in(bw.world.alice_user)
    token = card_token(client, reusable=True)
    for response in (
        client.get(reverse("billing:add_card")),
        client.post(reverse("billing:add_card"), token),
    ):
        assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not SavedCard.objects.exists()


def test_who_may_open_the_card_pages(bw: BillingWorld) -> None:
    _client, card = save_while_paying(bw)
    pages = (reverse("billing:cards"), reverse("billing:add_card"))
    pat = recently(bw.world.proxy_user)
    for url in pages:
        assert pat.get(url).status_code == 403
    for user in (bw.world.clinician, bw.world.unassigned_staff, bw.world.admin, bw.clerk):
        for url in pages:
            assert recently(user).get(url)["Location"] == reverse("staff:home")
    anonymous = Client()
    for response in (
        anonymous.get(pages[0]),
        anonymous.get(pages[1]),
        anonymous.post(pages[1], {"token": "tok_sbx_x"}),
        anonymous.post(reverse("billing:remove_card", args=[card.pk])),
    ):
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    card.refresh_from_db()
    assert card.removed_at is None
