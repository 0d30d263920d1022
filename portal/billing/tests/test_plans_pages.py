"""Payment plan pages: the patient's list, set-up, plan and cancel pages; the billing office's set-up and plan pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing import plan_worker, plans
from portal.billing.models import Instalment, Payment, PaymentPlan
from portal.billing.tests.plans_support import make_plan, saved_card
from portal.billing.tests.support import access_for, balance, bill, billing_world
from portal.patients.models import ProxyGrant, Scope
from portal.patients.tests.support import sign_in_recently
from portal.test import assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db
MISSING = 987654321
Status = Instalment.Status


@pytest.fixture
def bw(world):
    clinic = billing_world(world)
    bill(world.alice, 300_00)
    return clinic


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def recently(user: User) -> Client:
    """A client that has just signed in (or re-authenticated), for pages that ask for it."""
    client = Client()
    sign_in_recently(client, user)
    return client


def reads(action: str, **where: object) -> list[tuple[object, ...]]:
    events = AuditEvent.objects.filter(action=action, kind=AuditEvent.Kind.READ, **where)
    return list(events.values_list("actor_id", "patient_id", "object_id"))


def new_plan_form(card_id: object, **fields: object) -> dict[str, object]:
    return {
        "amount": "300.00",
        "months": "3",
        "card": card_id,
        "start_on": timezone.localdate().isoformat(),
        "step": "review",
        **fields,
    }


# The patient side -----------------------------------------------------------------------


def test_the_plans_page_lists_each_plan_with_its_instalments(bw):
    alice_user = bw.world.alice_user
    plan = make_plan(alice_user, bw.world.alice, 300_00, 3)
    plan_worker.charge_due_instalments()
    payment = Payment.objects.get()
    response = client_for(alice_user).get(reverse("billing:plans"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "$100.00" in page
    assert reverse("billing:plan", args=[plan.pk]) in page
    assert reverse("billing:payment", args=[payment.pk]) in page
    assert "Paid" in page and "Scheduled" in page
    assert "See your current payment plan" in page
    assert AuditEvent.objects.filter(action="billing.plans_view", patient_id=bw.world.alice.pk).exists()


def test_the_plans_page_offers_a_plan_only_when_the_rules_allow(bw):
    alice_user = bw.world.alice_user
    page = client_for(alice_user).get(reverse("billing:plans")).content.decode()
    assert reverse("billing:plan_new") in page
    bob_page = client_for(bw.world.bob_user).get(reverse("billing:plans")).content.decode()
    assert reverse("billing:plan_new") not in bob_page
    assert "balance of $100.00 or more" in bob_page


def test_the_plans_page_runs_the_same_queries_for_one_plan_or_many(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    access = access_for(alice_user, alice)
    client = client_for(alice_user)
    url = reverse("billing:plans")
    plan = make_plan(alice_user, alice, 300_00, 3)
    client.get(url)
    few = query_count(lambda: client.get(url))
    for months in (6, 12, 4):
        plans.do_cancel_plan(Actor(user=alice_user), access, plan)
        plan = make_plan(alice_user, alice, 300_00, months)
    plan_worker.charge_due_instalments()
    assert PaymentPlan.objects.count() == 4
    many = query_count(lambda: client.get(url))
    assert many == few


def test_setting_up_a_plan_shows_the_options_then_the_schedule_then_the_plan(
    bw, django_capture_on_commit_callbacks
):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    card = saved_card(alice_user)
    client = client_for(alice_user)
    url = reverse("billing:plan_new")
    page = client.get(url).content.decode()
    assert "3 months: $100.00 a month" in page
    assert "7 months: $42.86, then $42.85 a month" in page
    assert "12 months: $25.00 a month" in page
    assert "Visa •••• 4242" in page
    review = client.post(url, new_plan_form(card.pk, months="7"))
    assert review.status_code == 200
    text = review.content.decode()
    assert "Check the payment plan" in text
    assert text.count("$42.86") == 5 and text.count("$42.85") == 2
    assert not PaymentPlan.objects.exists()
    change = client.post(url, new_plan_form(card.pk, months="7", step="edit"))
    assert change.status_code == 200
    assert re.search(r'value="7"[^>]*checked', change.content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, new_plan_form(card.pk, months="7", step="confirm"))
    plan = PaymentPlan.objects.get()
    assert done.status_code == 302
    assert done["Location"] == reverse("billing:plan", args=[plan.pk])
    assert (plan.total_cents, plan.instalment_count, plan.saved_card, plan.created_by) == (
        300_00,
        7,
        card,
        alice_user,
    )
    # Due today: the sweep queued with the plan charged the first instalment straight away.
    first = plan.instalments.get(number=1)
    assert first.status == Status.PAID
    detail = client.get(done["Location"]).content.decode()
    assert "Your payment plan is set up." in detail
    assert "Charged automatically to Visa •••• 4242" in detail
    assert reverse("billing:payment", args=[first.payment_id]) in detail
    assert balance(alice) == 300_00 - 42_86


@pytest.mark.parametrize(
    "bad",
    [
        {"amount": "abc"},
        {"amount": "-5"},
        {"amount": "1e9"},
        {"amount": "12.345"},
        {"amount": "99999999999999999999"},
        {"amount": "300.01"},
        {"amount": "50.00"},
        {"months": "99"},
        {"months": "1"},
        {"months": "x" * 500},
        {"months": "12", "amount": "299.00"},
        {"card": MISSING},
        {"card": "none"},
        {"card": ""},
        {"start_on": "2020-01-01"},
        {"start_on": "not a date"},
        {"start_on": "9999-99-99"},
        {"start_on": (timezone.localdate() + dt.timedelta(days=45)).isoformat()},
    ],
)
def test_bad_choices_are_refused_clearly_and_change_nothing(bw, bad):
    alice_user = bw.world.alice_user
    card = saved_card(alice_user)
    client = client_for(alice_user)
    for step in ("review", "confirm"):
        response = client.post(reverse("billing:plan_new"), new_plan_form(card.pk, step=step, **bad))
        assert response.status_code == 400, bad
        assert "There is a problem" in response.content.decode()
    assert not PaymentPlan.objects.exists()


def test_someone_elses_card_cannot_be_chosen(bw):
    alice_user = bw.world.alice_user
    saved_card(alice_user)
    other = saved_card(bw.payer)
    response = client_for(alice_user).post(
        reverse("billing:plan_new"), new_plan_form(other.pk, step="confirm")
    )
    assert response.status_code == 400
    assert not PaymentPlan.objects.exists()


def test_without_a_saved_card_the_page_says_to_save_one(bw):
    page = client_for(bw.world.alice_user).get(reverse("billing:plan_new")).content.decode()
    assert "you have no saved card that can be used" in page
    assert 'name="months"' not in page


def test_a_second_plan_is_refused_while_one_is_active(bw):
    alice_user = bw.world.alice_user
    plan = make_plan(alice_user, bw.world.alice)
    page = client_for(alice_user).get(reverse("billing:plan_new")).content.decode()
    assert "already has a payment plan" in page
    assert reverse("billing:plan", args=[plan.pk]) in page
    response = client_for(alice_user).post(
        reverse("billing:plan_new"), new_plan_form(saved_card(alice_user).pk, step="confirm")
    )
    assert response.status_code == 200
    assert PaymentPlan.objects.count() == 1


def test_a_proxy_with_the_billing_scope_sets_up_and_cancels_a_plan(bw):
    greta = client_for(bw.payer)
    card = saved_card(bw.payer)
    done = greta.post(reverse("billing:plan_new"), new_plan_form(card.pk, step="confirm"))
    plan = PaymentPlan.objects.get()
    assert done["Location"] == reverse("billing:plan", args=[plan.pk])
    assert (plan.account.patient, plan.created_by) == (bw.world.alice, bw.payer)
    assert greta.get(reverse("billing:plan", args=[plan.pk])).status_code == 200
    assert greta.get(reverse("billing:plan_cancel", args=[plan.pk])).status_code == 200
    cancelled = greta.post(reverse("billing:plan_cancel", args=[plan.pk]))
    assert cancelled["Location"] == reverse("billing:plan", args=[plan.pk])
    plan.refresh_from_db()
    assert (plan.status, plan.cancelled_by) == (PaymentPlan.Status.CANCELLED, bw.payer)


def test_cancelling_asks_first_then_cancels(bw):
    alice_user = bw.world.alice_user
    plan = make_plan(alice_user, bw.world.alice, start_on=timezone.localdate() + dt.timedelta(days=3))
    client = client_for(alice_user)
    url = reverse("billing:plan_cancel", args=[plan.pk])
    ask = client.get(url)
    assert "Yes, cancel the plan" in ask.content.decode()
    plan.refresh_from_db()
    assert plan.status == "active"
    client.post(url)
    plan.refresh_from_db()
    assert plan.status == "cancelled"
    again = client.post(url)
    assert again.status_code == 400
    assert "already ended" in again.content.decode()


@pytest.mark.parametrize("name", ["pat", "bob"])
def test_others_get_the_same_404_as_a_missing_plan(bw, name):
    plan = make_plan(bw.world.alice_user, bw.world.alice)
    user = bw.world.proxy_user if name == "pat" else bw.world.bob_user
    client = client_for(user)
    for route in ("billing:plan", "billing:plan_cancel"):
        assert_same_as_missing(
            client.get(reverse(route, args=[plan.pk])), client.get(reverse(route, args=[MISSING]))
        )
    assert client.post(reverse("billing:plan_cancel", args=[plan.pk])).status_code == 404
    plan.refresh_from_db()
    assert plan.status == "active"
    assert AuditEvent.objects.filter(action="access.refused", actor_id=user.pk).exists()


def test_a_proxy_without_the_billing_scope_sees_the_not_shared_page(bw):
    client = client_for(bw.world.proxy_user)
    for route in ("billing:plans", "billing:plan_new"):
        response = client.get(reverse(route))
        assert response.status_code == 403
        assert "not shared with you" in response.content.decode()


def test_staff_on_patient_plan_pages_go_to_their_workspace_and_strangers_sign_in(bw):
    plan = make_plan(bw.world.alice_user, bw.world.alice)
    urls = [
        reverse("billing:plans"),
        reverse("billing:plan_new"),
        reverse("billing:plan", args=[plan.pk]),
        reverse("billing:plan_cancel", args=[plan.pk]),
    ]
    for user in (bw.world.clinician, bw.world.unassigned_staff, bw.world.admin, bw.clerk):
        for url in urls:
            response = client_for(user).get(url)
            assert (response.status_code, response["Location"]) == (302, reverse("staff:home")), (user, url)
    for url in urls:
        response = client_for(None).get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    client_for(bw.clerk).post(reverse("billing:plan_cancel", args=[plan.pk]))
    plan.refresh_from_db()
    assert plan.status == "active"


# The billing office ---------------------------------------------------------------------


def staff_new_url(bw) -> str:
    return reverse("staff_billing:plan_new", args=[bw.world.alice.pk])


def test_the_billing_office_sets_up_a_plan_on_the_account_holders_card(bw):
    alice_card = saved_card(bw.world.alice_user)
    greta_card = saved_card(bw.payer)
    clerk = client_for(bw.clerk)
    page = clerk.get(staff_new_url(bw)).content.decode()
    assert f'name="card" value="{alice_card.pk}"' in page
    assert f'name="card" value="{greta_card.pk}"' not in page
    assert "No card: the patient pays each instalment online" in page
    refused = clerk.post(staff_new_url(bw), new_plan_form(greta_card.pk, step="confirm"))
    assert refused.status_code == 400
    done = clerk.post(staff_new_url(bw), new_plan_form(alice_card.pk, step="confirm", months="6"))
    plan = PaymentPlan.objects.get()
    assert done["Location"] == reverse("staff_billing:plan", args=[plan.pk])
    assert (plan.created_by, plan.saved_card, plan.instalment_count) == (bw.clerk, alice_card, 6)
    event = AuditEvent.objects.get(action="billing.plan_create")
    assert (event.actor_id, event.actor_role) == (bw.clerk.pk, "staff")
    detail = clerk.get(done["Location"]).content.decode()
    assert "$50.00" in detail
    assert bw.world.alice.full_name in detail


def test_the_billing_office_sets_up_a_plan_paid_online_and_cancels_it(bw):
    clerk = client_for(bw.clerk)
    review = clerk.post(staff_new_url(bw), new_plan_form("none"))
    assert "The patient pays each instalment online" in review.content.decode()
    clerk.post(staff_new_url(bw), new_plan_form("none", step="confirm"))
    plan = PaymentPlan.objects.get()
    assert plan.saved_card is None
    assert clerk.get(reverse("staff_billing:plan_cancel", args=[plan.pk])).status_code == 200
    done = clerk.post(reverse("staff_billing:plan_cancel", args=[plan.pk]))
    assert done["Location"] == reverse("staff_billing:plan", args=[plan.pk])
    plan.refresh_from_db()
    assert (plan.status, plan.cancelled_by) == ("cancelled", bw.clerk)
    assert AuditEvent.objects.get(action="billing.plan_cancel").actor_role == "staff"


def test_the_billing_office_pages_refuse_everyone_else(bw):
    plan = make_plan(bw.world.alice_user, bw.world.alice)
    urls = [
        staff_new_url(bw),
        reverse("staff_billing:plan", args=[plan.pk]),
        reverse("staff_billing:plan_cancel", args=[plan.pk]),
    ]
    for user in (
        bw.world.unassigned_staff,
        bw.world.admin,
        bw.world.clinician,
        bw.world.alice_user,
        bw.payer,
        bw.world.bob_user,
    ):
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
            if "cancel" in url or "new" in url:
                assert client.post(url, new_plan_form("none", step="confirm")).status_code == 404
    for url in urls:
        assert client_for(None).get(url)["Location"].startswith(reverse("account_login"))
    assert client_for(bw.clerk).get(reverse("staff_billing:plan_new", args=[MISSING])).status_code == 404
    plan.refresh_from_db()
    assert plan.status == "active"
    assert PaymentPlan.objects.count() == 1


def test_nobody_works_their_own_familys_plan(bw):
    ProxyGrant.objects.create(
        grantee=bw.clerk,
        patient=bw.world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    plan = make_plan(bw.world.alice_user, bw.world.alice)
    clerk = client_for(bw.clerk)
    assert clerk.get(staff_new_url(bw)).status_code == 404
    assert clerk.get(reverse("staff_billing:plan", args=[plan.pk])).status_code == 404
    assert clerk.post(reverse("staff_billing:plan_cancel", args=[plan.pk])).status_code == 404


def test_the_plan_page_moves_the_plan_to_another_card(bw):
    alice_user = bw.world.alice_user
    plan = make_plan(alice_user, bw.world.alice)
    other = saved_card(alice_user, "5555555555554444")
    client = recently(alice_user)
    page = client.get(reverse("billing:plan", args=[plan.pk])).content.decode()
    assert "Change the card" in page
    assert f'name="card" value="{other.pk}"' in page
    url = reverse("billing:plan_card", args=[plan.pk])
    for bad in ("", "x" * 300, str(plan.saved_card_id), str(saved_card(bw.payer).pk)):
        assert client.post(url, {"card": bad}).status_code == 400
    assert client.post(url, {"card": other.pk})["Location"] == reverse("billing:plan", args=[plan.pk])
    plan.refresh_from_db()
    assert plan.saved_card == other
    for user in (bw.world.proxy_user, bw.world.bob_user):
        assert recently(user).post(url, {"card": other.pk}).status_code == 404
    # Greta did not set it up: she sees the plan, not the card form.
    assert (
        "Change the card"
        not in client_for(bw.payer).get(reverse("billing:plan", args=[plan.pk])).content.decode()
    )


def test_the_plan_page_says_why_an_instalment_failed_and_what_happens_next(bw):
    from portal.billing.tests.support import DECLINED

    alice_user = bw.world.alice_user
    plan = make_plan(alice_user, bw.world.alice, card=saved_card(alice_user, DECLINED))
    plan_worker.charge_due_instalments()
    page = client_for(alice_user).get(reverse("billing:plan", args=[plan.pk])).content.decode()
    assert "Your bank declined this card. You have not been charged." in page
    assert "It will be tried again on the next day." in page
    Instalment.objects.filter(plan=plan, number=1).update(attempts=plan_worker.MAX_ATTEMPTS)
    page = client_for(alice_user).get(reverse("billing:plan", args=[plan.pk])).content.decode()
    assert "It will not be tried again" in page
    staff_page = client_for(bw.clerk).get(reverse("staff_billing:plan", args=[plan.pk])).content.decode()
    assert "the patient can pay it online" in staff_page


def test_moving_the_plan_to_another_card_asks_for_a_recent_sign_in(bw):
    alice_user = bw.world.alice_user
    plan = make_plan(alice_user, bw.world.alice)
    first_card = plan.saved_card
    other = saved_card(alice_user, "5555555555554444")
    url = reverse("billing:plan_card", args=[plan.pk])
    response = client_for(alice_user).post(url, {"card": other.pk})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    plan.refresh_from_db()
    assert plan.saved_card == first_card
    assert not AuditEvent.objects.filter(action="billing.plan_card").exists()
    assert recently(alice_user).post(url, {"card": other.pk})["Location"] == reverse(
        "billing:plan", args=[plan.pk]
    )
    plan.refresh_from_db()
    assert plan.saved_card == other
    for user in (bw.world.clinician, bw.clerk):
        assert recently(user).post(url, {"card": first_card.pk})["Location"] == reverse("staff:home")
    assert (
        client_for(None).post(url, {"card": first_card.pk})["Location"].startswith(reverse("account_login"))
    )
    plan.refresh_from_db()
    assert plan.saved_card == other


def test_the_set_up_and_cancel_pages_audit_their_reads(bw):
    alice, alice_user, clerk = bw.world.alice, bw.world.alice_user, bw.clerk
    plan = make_plan(alice_user, alice, start_on=timezone.localdate() + dt.timedelta(days=3))
    assert client_for(clerk).get(staff_new_url(bw)).status_code == 200
    assert reads("billing.plan_new_view") == [(clerk.pk, alice.pk, "")]
    assert client_for(alice_user).get(reverse("billing:plan_new")).status_code == 200
    assert reads("billing.plan_new_view", actor=alice_user) == [(alice_user.pk, alice.pk, "")]
    assert client_for(alice_user).get(reverse("billing:plan_cancel", args=[plan.pk])).status_code == 200
    assert client_for(clerk).get(reverse("staff_billing:plan_cancel", args=[plan.pk])).status_code == 200
    assert sorted(reads("billing.plan_cancel_view")) == sorted(
        [(alice_user.pk, alice.pk, str(plan.pk)), (clerk.pk, alice.pk, str(plan.pk))]
    )
    staff_role = AuditEvent.objects.get(action="billing.plan_cancel_view", actor=clerk).actor_role
    assert staff_role == "staff"
    # Posting is the write (audited as such), not another read; refusals read nothing.
    client_for(clerk).post(reverse("staff_billing:plan_cancel", args=[plan.pk]))
    client_for(bw.world.bob_user).get(reverse("billing:plan_cancel", args=[plan.pk]))
    client_for(bw.world.unassigned_staff).get(staff_new_url(bw))
    assert len(reads("billing.plan_cancel_view")) == 2
    assert len(reads("billing.plan_new_view")) == 2
    assert AuditEvent.objects.filter(action="billing.plan_cancel", actor=clerk).count() == 1
