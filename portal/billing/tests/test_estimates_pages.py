"""Cost estimate pages: pricing a visit or services, saving, the Good Faith Estimate page, every
persona, bad input, bounded queries, and the estimate on the booking and pre-check-in pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.billing import ledger
from portal.billing.estimates import valid_until
from portal.billing.models import CoverageBenefits, Estimate, PriceItem
from portal.billing.tests.support import BillingWorld, billing_world
from portal.patients.models import Coverage, ProxyGrant, Scope
from portal.scheduling.models import Appointment, VisitType
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.test import World, assert_same_as_missing, make_user, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321


@dataclass
class Clinic:
    """The World with the billing office, a schedule, and a small price list for the follow-up visit."""

    world: World
    bw: BillingWorld
    sw: SchedulingWorld
    office_visit: PriceItem
    lab: PriceItem
    x_ray: PriceItem


@pytest.fixture
def clinic(world: World) -> Clinic:
    return make_clinic(world)


def make_clinic(world: World) -> Clinic:
    bw = billing_world(world)
    sw = scheduling_world(world)
    office_visit = PriceItem.objects.create(
        code="99213",
        description="Office visit, established patient",
        price_cents=250_00,
        self_pay_price_cents=180_00,
    )
    lab = PriceItem.objects.create(
        code="80053",
        description="Comprehensive metabolic panel",
        price_cents=120_00,
        self_pay_price_cents=60_00,
    )
    x_ray = PriceItem.objects.create(
        code="71046", description="Chest X-ray, two views", price_cents=300_00, self_pay_price_cents=150_00
    )
    office_visit.visit_types.add(sw.follow_up)
    lab.visit_types.add(sw.follow_up)
    return Clinic(world, bw, sw, office_visit, lab, x_ray)


def insure(world: World, *, status: str = Coverage.Status.VERIFIED, **benefits: Any) -> Coverage:
    coverage = Coverage.objects.create(
        patient=world.alice,
        priority=Coverage.Priority.PRIMARY,
        payer_name="Acme Health",
        plan_name="PPO",
        member_id="XY123456789",
        subscriber_name="Alice Able",
        status=status,
        verified_at=timezone.now() if status == Coverage.Status.VERIFIED else None,
    )
    if benefits:
        CoverageBenefits.objects.create(coverage=coverage, **benefits)
    return coverage


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def estimates_url(**query: Any) -> str:
    url = reverse("billing:estimates")
    pairs = [
        (key, item)
        for key, value in query.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    return url + ("?" + "&".join(f"{key}={item}" for key, item in pairs) if pairs else "")


def saved_estimate(
    clinic: Clinic, *, self_pay: bool = True, user: User | None = None, **fields: Any
) -> Estimate:
    """Save an estimate for the follow-up visit through the page, as Alice (or `user`)."""
    data: dict[str, Any] = {"visit_type": clinic.sw.follow_up.pk, **fields}
    if self_pay:
        data["self_pay"] = "on"
    response = client_for(user or clinic.world.alice_user).post(reverse("billing:estimate_save"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Estimate.objects.latest("id")


def actions(world: World) -> list[str]:
    return list(AuditEvent.objects.filter(patient_id=world.alice.pk).values_list("action", flat=True))


# Pricing ---------------------------------------------------------------------------------------


def test_alice_sees_what_a_visit_costs_with_her_insurance(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    response = client_for(clinic.world.alice_user).get(estimates_url(visit_type=clinic.sw.follow_up.pk))
    assert response.status_code == 200
    page = response.content.decode()
    breakdown = response.context["breakdown"]
    assert (breakdown.total_cents, breakdown.patient_cents, breakdown.insurance_cents) == (
        370_00,
        30_00,
        340_00,
    )
    for shown in ("Your estimate", "$370.00", "$30.00", "$340.00", "A copay of $30.00 for this visit."):
        assert shown in page
    assert "Based on your primary coverage, Acme Health PPO, verified on" in page
    assert "Save this estimate" in page
    assert "billing.estimates_view" in actions(clinic.world)
    assert not Estimate.objects.exists()


def test_without_insurance_the_estimate_is_a_good_faith_estimate(clinic: Clinic) -> None:
    response = client_for(clinic.world.alice_user).get(estimates_url(visit_type=clinic.sw.follow_up.pk))
    assert response.status_code == 200
    assert response.context["breakdown"].good_faith
    page = response.content.decode()
    assert "Your Good Faith Estimate" in page
    assert "$240.00" in page  # the self-pay prices: $180 + $60
    assert "if your bill is $400.00 or more above this estimate you may dispute it" in page


def test_a_pending_coverage_is_used_and_said_to_be_unverified(clinic: Clinic) -> None:
    insure(clinic.world, status=Coverage.Status.PENDING, copay_cents=30_00)
    page = (
        client_for(clinic.world.alice_user)
        .get(estimates_url(visit_type=clinic.sw.follow_up.pk))
        .content.decode()
    )
    assert "which the clinic has not verified yet" in page
    assert "$30.00" in page


def test_services_are_found_by_name_or_code_and_priced(clinic: Clinic) -> None:
    client = client_for(clinic.world.alice_user)
    found = client.get(estimates_url(q="x-ray", find="1"))
    assert found.status_code == 200
    assert "Chest X-ray, two views (71046)" in found.content.decode()
    assert "Comprehensive metabolic panel" not in found.content.decode()
    assert found.context["breakdown"] is None
    by_code = client.get(estimates_url(q="8005", find="1")).content.decode()
    assert "Comprehensive metabolic panel (80053)" in by_code
    priced = client.get(estimates_url(services=[clinic.x_ray.pk, clinic.lab.pk]))
    assert priced.status_code == 200
    assert priced.context["breakdown"].total_cents == 210_00  # self-pay: $150 + $60


def test_an_appointment_type_and_extra_services_are_priced_once_each(clinic: Clinic) -> None:
    response = client_for(clinic.world.alice_user).get(
        estimates_url(visit_type=clinic.sw.follow_up.pk, services=[clinic.lab.pk, clinic.x_ray.pk])
    )
    codes = [line.code for line in response.context["breakdown"].items]
    assert codes == ["80053", "99213", "71046"]


def test_an_inactive_service_is_not_on_the_price_list(clinic: Clinic) -> None:
    clinic.x_ray.active = False
    clinic.x_ray.save()
    response = client_for(clinic.world.alice_user).get(estimates_url(services=clinic.x_ray.pk))
    assert response.status_code == 400
    assert "Choose services from the price list." in response.content.decode()


def test_only_priced_active_appointment_types_are_offered(clinic: Clinic) -> None:
    page = client_for(clinic.world.alice_user).get(estimates_url()).content.decode()
    assert "Follow-up visit" in page
    assert "New patient consultation" not in page  # no prices
    response = client_for(clinic.world.alice_user).get(estimates_url(visit_type=clinic.sw.consult.pk))
    assert response.status_code == 400


def test_an_upcoming_appointment_is_priced_by_its_type(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    appointment = book(clinic.sw, make_slot(clinic.sw, local_moment(clinic.world.campus, 5, 10)))
    client = client_for(clinic.world.alice_user)
    form_page = client.get(estimates_url()).content.decode()
    assert "For an upcoming appointment" in form_page
    response = client.get(estimates_url(appointment=appointment.pk))
    assert response.status_code == 200
    assert response.context["breakdown"].patient_cents == 30_00
    client.post(reverse("billing:estimate_save"), {"appointment": appointment.pk})
    saved = Estimate.objects.get()
    assert (saved.appointment, saved.visit_type) == (appointment, clinic.sw.follow_up)
    assert saved.service_date == appointment.starts_at.astimezone(clinic.world.campus.zone).date()


def test_another_patients_appointment_is_not_a_choice(clinic: Clinic) -> None:
    theirs = book(
        clinic.sw, make_slot(clinic.sw, local_moment(clinic.world.campus, 5, 10)), patient=clinic.world.bob
    )
    response = client_for(clinic.world.alice_user).get(estimates_url(appointment=theirs.pk))
    assert response.status_code == 400
    saved = client_for(clinic.world.alice_user).post(
        reverse("billing:estimate_save"), {"appointment": theirs.pk}
    )
    assert saved.status_code == 400
    assert not Estimate.objects.exists()


# Saving ----------------------------------------------------------------------------------------


def test_saving_an_insured_estimate(clinic: Clinic) -> None:
    coverage = insure(clinic.world, copay_cents=30_00)
    estimate = saved_estimate(clinic, self_pay=False)
    assert estimate.kind == Estimate.Kind.INSURED
    assert estimate.account == ledger.account_for(clinic.world.alice)
    assert (estimate.total_cents, estimate.patient_cents, estimate.insurance_cents) == (370_00, 30_00, 340_00)
    assert estimate.coverage == coverage
    assert estimate.number.startswith("EST-")
    assert estimate.valid_until == timezone.localdate() + dt.timedelta(days=30)
    assert [line["code"] for line in estimate.items] == ["80053", "99213"]
    assert "A copay of $30.00 for this visit." in estimate.assumptions
    assert estimate.created_by == clinic.world.alice_user
    event = AuditEvent.objects.get(action="billing.estimate_save")
    assert (event.patient_id, event.object_id) == (clinic.world.alice.pk, str(estimate.pk))


def test_choosing_to_pay_oneself_saves_a_good_faith_estimate(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    estimate = saved_estimate(clinic, self_pay=True)
    assert estimate.kind == Estimate.Kind.GOOD_FAITH
    assert estimate.number.startswith("GFE-")
    assert (estimate.total_cents, estimate.patient_cents, estimate.insurance_cents) == (240_00, 240_00, 0)
    today = timezone.localdate()
    assert estimate.valid_until == valid_until(Estimate.Kind.GOOD_FAITH, today)
    assert 365 <= (estimate.valid_until - today).days <= 366
    assert estimate.coverage is None


def test_the_good_faith_estimate_page(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    response = client_for(clinic.world.alice_user).get(reverse("billing:estimate", args=[estimate.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in (
        "Good Faith Estimate",
        estimate.number,
        "Alice Able",
        "Office visit, established patient",
        "99213",
        "$180.00",
        "$240.00",
        "No Surprises Act",
        "If you are billed $400.00 or more above this Good Faith Estimate, you may dispute the bill.",
        "Print this estimate",
    ):
        assert shown in page
    assert "billing.estimate_view" in actions(clinic.world)


def test_an_insured_estimate_page_is_not_called_a_good_faith_estimate(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    estimate = saved_estimate(clinic, self_pay=False)
    page = (
        client_for(clinic.world.alice_user)
        .get(reverse("billing:estimate", args=[estimate.pk]))
        .content.decode()
    )
    assert "Cost estimate" in page
    assert "No Surprises Act" not in page
    assert "Insurance is expected to pay" in page


def test_saved_estimates_are_listed_newest_first(clinic: Clinic) -> None:
    first = saved_estimate(clinic)
    second = saved_estimate(clinic)
    page = client_for(clinic.world.alice_user).get(estimates_url()).content.decode()
    assert page.index(second.number) < page.index(first.number)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"self_pay": "on"},
        {"visit_type": "abc"},
        {"visit_type": "99999999999999999999999"},
        {"visit_type": str(MISSING)},
        {"services": "-3"},
        {"services": str(MISSING)},
        {"appointment": str(MISSING)},
        {"services": [str(n) for n in range(1, 30)]},
        {"q": "x" * 5000},
    ],
)
def test_bad_choices_change_nothing(clinic: Clinic, data: dict[str, Any]) -> None:
    client = client_for(clinic.world.alice_user)
    response = client.post(reverse("billing:estimate_save"), data)
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert not Estimate.objects.exists()
    shown = client.get(reverse("billing:estimates"), data)
    assert shown.status_code == (400 if data else 200)  # no choice at all is the empty form
    assert shown.context["breakdown"] is None


def test_too_many_services_are_refused(clinic: Clinic) -> None:
    items = [
        PriceItem.objects.create(
            code=f"T{n}", description=f"Test {n}", price_cents=100, self_pay_price_cents=100
        )
        for n in range(21)
    ]
    response = client_for(clinic.world.alice_user).get(estimates_url(services=[item.pk for item in items]))
    assert response.status_code == 400
    assert "Choose at most 20 services." in response.content.decode()


def test_the_save_page_takes_only_post(clinic: Clinic) -> None:
    assert client_for(clinic.world.alice_user).get(reverse("billing:estimate_save")).status_code == 405


# Who may ---------------------------------------------------------------------------------------


def test_greta_a_billing_proxy_may_estimate_and_save(clinic: Clinic) -> None:
    client = client_for(clinic.bw.payer)
    page = client.get(estimates_url()).content.decode()
    # Greta may not see Alice's appointments, so none are offered.
    assert "For an upcoming appointment" not in page
    client.post(reverse("billing:estimate_save"), {"visit_type": clinic.sw.follow_up.pk, "self_pay": "on"})
    estimate = Estimate.objects.get()
    assert (estimate.account.patient, estimate.created_by) == (clinic.world.alice, clinic.bw.payer)
    assert client.get(reverse("billing:estimate", args=[estimate.pk])).status_code == 200


def test_pat_without_the_billing_scope_is_told_so_and_gets_no_estimate(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    client = client_for(clinic.world.proxy_user)
    assert client.get(estimates_url()).status_code == 403
    response = client.post(reverse("billing:estimate_save"), {"visit_type": clinic.sw.follow_up.pk})
    assert response.status_code == 403
    missing = client.get(reverse("billing:estimate", args=[MISSING]))
    assert_same_as_missing(client.get(reverse("billing:estimate", args=[estimate.pk])), missing)
    assert Estimate.objects.count() == 1


def test_another_patients_estimate_is_the_same_as_a_missing_one(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    client = client_for(clinic.world.bob_user)
    missing = client.get(reverse("billing:estimate", args=[MISSING]))
    assert_same_as_missing(client.get(reverse("billing:estimate", args=[estimate.pk])), missing)
    assert AuditEvent.objects.filter(action="access.refused", patient_id=clinic.world.alice.pk).exists()
    # Bob's own list shows nothing of Alice's.
    assert estimate.number not in client.get(estimates_url()).content.decode()


@pytest.mark.parametrize("who", ["clerk", "clinician", "unassigned_staff", "admin"])
def test_staff_get_nothing_on_the_patient_pages(clinic: Clinic, who: str) -> None:
    estimate = saved_estimate(clinic)
    user = clinic.bw.clerk if who == "clerk" else clinic.world.persona(who)
    client = client_for(user)
    for url in (estimates_url(), reverse("billing:estimate", args=[estimate.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("staff:home")
    assert (
        client.post(reverse("billing:estimate_save"), {"visit_type": clinic.sw.follow_up.pk}).status_code
        == 302
    )
    assert Estimate.objects.count() == 1


def test_a_member_of_staff_who_is_a_patient_sees_only_their_own(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    clerk = clinic.bw.clerk
    clinic.world.bob.account = clerk
    clinic.world.bob.save()
    client = client_for(clerk)
    assert client.get(estimates_url()).status_code == 200
    missing = client.get(reverse("billing:estimate", args=[MISSING]))
    assert_same_as_missing(client.get(reverse("billing:estimate", args=[estimate.pk])), missing)


def test_anonymous_visitors_are_sent_to_sign_in(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    for url in (estimates_url(), reverse("billing:estimate", args=[estimate.pk])):
        response = Client().get(url)
        assert response.status_code == 302
        assert "/login" in response["Location"] or "sign" in response["Location"]


# Bounded queries -------------------------------------------------------------------------------


def test_the_estimates_page_runs_the_same_queries_however_many_are_saved(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    client = client_for(clinic.world.alice_user)
    url = estimates_url(visit_type=clinic.sw.follow_up.pk, services=clinic.x_ray.pk)
    saved_estimate(clinic)
    client.get(url)
    few = query_count(lambda: client.get(url))
    for _ in range(12):
        saved_estimate(clinic)
    many = query_count(lambda: client.get(url))
    assert few == many
    estimate = Estimate.objects.latest("id")
    detail = query_count(lambda: client.get(reverse("billing:estimate", args=[estimate.pk])))
    assert detail < 40


# The booking confirm page and pre-check-in ------------------------------------------------------


def confirm_url(clinic: Clinic, visit_type: VisitType | None = None) -> tuple[str, Any]:
    slot = make_slot(clinic.sw, local_moment(clinic.world.campus, 5, 10))
    visit_type = visit_type or clinic.sw.follow_up
    return reverse("booking:confirm", kwargs={"slot_id": slot.pk}) + f"?visit_type={visit_type.pk}", slot


def test_the_booking_confirm_page_shows_alice_the_estimate(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    url, _slot = confirm_url(clinic)
    response = client_for(clinic.world.alice_user).get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Estimated cost" in page
    assert "You pay about $30.00; your insurance about $340.00." in page
    assert f'href="{reverse("billing:estimates")}?visit_type={clinic.sw.follow_up.pk}"' in page


def test_without_coverage_the_booking_page_shows_the_self_pay_estimate(clinic: Clinic) -> None:
    url, _slot = confirm_url(clinic)
    page = client_for(clinic.world.alice_user).get(url).content.decode()
    assert "Estimated cost (paying yourself)" in page
    assert "You pay about $240.00." in page


def test_an_unpriced_visit_type_shows_no_estimate(clinic: Clinic) -> None:
    clinic.office_visit.visit_types.clear()
    clinic.lab.visit_types.clear()
    url, _slot = confirm_url(clinic)
    response = client_for(clinic.world.alice_user).get(url)
    assert response.status_code == 200
    assert "Estimated cost" not in response.content.decode()


def test_a_proxy_who_may_schedule_but_not_see_bills_gets_no_estimate(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    scheduler = make_user("sally", first_name="Sally", last_name="Able")
    ProxyGrant.objects.create(
        grantee=scheduler,
        patient=clinic.world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW, Scope.SCHEDULE],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    url, _slot = confirm_url(clinic)
    response = client_for(scheduler).get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Book this appointment" in page
    assert "Estimated cost" not in page
    assert "$30.00" not in page


def test_the_estimate_adds_at_most_three_queries_to_the_booking_page(
    clinic: Clinic, monkeypatch: Any
) -> None:
    insure(clinic.world, copay_cents=30_00)
    url, _slot = confirm_url(clinic)
    client = client_for(clinic.world.alice_user)
    client.get(url)
    with_estimate = query_count(lambda: client.get(url))
    monkeypatch.setattr("portal.scheduling.views_booking.visit_estimate", lambda access, visit_type: None)
    without = query_count(lambda: client.get(url))
    assert 0 < with_estimate - without <= 3


def test_booking_still_works_with_the_estimate_shown(clinic: Clinic) -> None:
    url, slot = confirm_url(clinic)
    client = client_for(clinic.world.alice_user)
    response = client.post(url.split("?")[0], {"visit_type": clinic.sw.follow_up.pk, "reason": "Check-up"})
    assert response.status_code == 302
    assert Appointment.objects.filter(slot=slot, patient=clinic.world.alice).exists()


def test_pre_check_in_shows_the_expected_copay(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    appointment = book(clinic.sw, make_slot(clinic.sw, local_moment(clinic.world.campus, 3, 10)))
    response = client_for(clinic.world.alice_user).get(reverse("checkin:insurance", args=[appointment.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Estimated cost" in page
    assert "You pay about $30.00" in page


def test_pre_check_in_shows_no_estimate_without_the_billing_scope(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    appointment = book(clinic.sw, make_slot(clinic.sw, local_moment(clinic.world.campus, 3, 10)))
    clinic.world.proxy_grant.scopes = [Scope.VIEW, Scope.SCHEDULE]
    clinic.world.proxy_grant.save()
    response = client_for(clinic.world.proxy_user).get(reverse("checkin:insurance", args=[appointment.pk]))
    assert response.status_code == 200
    assert "Estimated cost" not in response.content.decode()
