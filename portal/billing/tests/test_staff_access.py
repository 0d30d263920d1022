"""Who reaches the billing office's pages: the clerk does; every other persona gets the ordinary
404 (or the sign-in page), and nobody works their own or their family's account."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.billing.models import LedgerEntry, Payment, ServiceLine
from portal.billing.tests.staff_support import (
    MISSING,
    account_url,
    as_user,
    coverage_for,
    coverage_url,
    paid,
    patient_url,
    refund_url,
)
from portal.billing.tests.support import BillingWorld, billing_world
from portal.patients.models import ProxyGrant, Scope
from portal.test import World, assert_same_as_missing, make_patient

pytestmark = pytest.mark.django_db

PATIENT_PAGES = ["account", "guarantor", "charge", "adjustment", "statement_new", "claim_new"]


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def every_page(bw: BillingWorld) -> list[str]:
    alice = bw.world.alice
    payment = paid(bw)
    coverage = coverage_for(alice)
    return [
        reverse("staff_billing:home"),
        *(patient_url(name, alice) for name in PATIENT_PAGES),
        coverage_url(coverage),
        refund_url(payment),
    ]


def posts(bw: BillingWorld) -> list[tuple[str, dict[str, str]]]:
    alice = bw.world.alice
    payment = Payment.objects.get()
    coverage = alice.coverages.get()
    return [
        (
            patient_url("charge", alice),
            {
                "code": "99213",
                "description": "Visit",
                "amount": "10.00",
                "service_date": "2026-01-05",
                "key": "c" * 20,
            },
        ),
        (
            patient_url("adjustment", alice),
            {"amount": "5.00", "reason": "Courtesy discount", "key": "a" * 20},
        ),
        (patient_url("statement_new", alice), {}),
        (patient_url("guarantor", alice), {"guarantor_name": "Someone Else"}),
        (refund_url(payment), {"key": "k" * 20, "amount": "5.00", "reason": "Paid twice"}),
        (
            coverage_url(coverage),
            {
                "deductible": "0",
                "deductible_met": "0",
                "coinsurance_percent": "20",
                "copay": "0",
                "out_of_pocket_max": "0",
                "out_of_pocket_met": "0",
            },
        ),
        (coverage_url(coverage, "coverage_reject"), {"reason": "No such member"}),
    ]


def test_the_billing_clerk_opens_every_page(bw: BillingWorld) -> None:
    client = as_user(bw.clerk)
    for url in every_page(bw):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", ["unassigned_staff", "clinician", "scheduler", "admin"])
def test_other_staff_get_a_404_on_every_page_and_change_nothing(bw: BillingWorld, persona: str) -> None:
    user = {
        "unassigned_staff": bw.world.unassigned_staff,
        "clinician": bw.world.clinician,
        "scheduler": bw.world.scheduler,
        "admin": bw.world.admin,
    }[persona]
    client = as_user(user)
    for url in every_page(bw):
        assert client.get(url).status_code == 404, url
    entries = LedgerEntry.objects.count()
    for url, data in posts(bw):
        assert client.post(url, data).status_code == 404, url
    assert LedgerEntry.objects.count() == entries
    alice = bw.world.alice
    alice.coverages.get().refresh_from_db()
    assert alice.coverages.get().status == "pending"
    assert Payment.objects.get().refunded_cents == 0


@pytest.mark.parametrize("persona", ["patient", "proxy", "other_patient", "payer"])
def test_patients_and_proxies_get_a_404(bw: BillingWorld, persona: str) -> None:
    user = bw.payer if persona == "payer" else bw.world.persona(persona)
    client = as_user(user)
    for url in every_page(bw):
        assert client.get(url).status_code == 404, url


def test_anonymous_visitors_are_sent_to_sign_in(bw: BillingWorld) -> None:
    from django.test import Client

    for url in every_page(bw):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login" in response["Location"], url


def test_a_refused_account_looks_like_a_missing_one(bw: BillingWorld) -> None:
    client = as_user(bw.world.unassigned_staff)
    paid(bw)
    assert_same_as_missing(client.get(account_url(bw.world.alice)), client.get(account_url(MISSING)))
    clerk = as_user(bw.clerk)
    assert clerk.get(account_url(MISSING)).status_code == 404
    assert clerk.get(refund_url(MISSING)).status_code == 404
    assert (
        clerk.get(
            coverage_url(coverage_for(bw.world.bob)).replace(f"/{bw.world.bob.pk}/", f"/{bw.world.alice.pk}/")
        ).status_code
        == 404
    )


def test_a_clerk_never_works_their_own_account(bw: BillingWorld) -> None:
    own = make_patient("10000077", "Bill", "Staff", bw.world.campus, account=bw.clerk)
    client = as_user(bw.clerk)
    from portal.billing.tests.support import bill, pay

    bill(own, 80_00)
    payment = pay(bw.clerk, own, 30_00)
    coverage = coverage_for(own)
    for name in PATIENT_PAGES:
        assert client.get(patient_url(name, own)).status_code == 404, name
    assert client.get(refund_url(payment)).status_code == 404
    assert client.get(coverage_url(coverage)).status_code == 404
    response = client.post(
        patient_url("adjustment", own), {"amount": "80.00", "reason": "Writing off my own bill"}
    )
    assert response.status_code == 404
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()
    # Nor is their own record among the accounts they can find.
    page = client.get(reverse("staff_billing:home"), {"q": "Staff"}).content.decode()
    assert own.clinic_number not in page


def test_a_clerk_never_works_their_family_s_account(bw: BillingWorld) -> None:
    ProxyGrant.objects.create(
        grantee=bw.clerk,
        patient=bw.world.bob,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    client = as_user(bw.clerk)
    assert client.get(account_url(bw.world.bob)).status_code == 404
    response = client.post(
        patient_url("charge", bw.world.bob),
        {"code": "99213", "description": "Visit", "amount": "10.00", "service_date": "2026-01-05"},
    )
    assert response.status_code == 404
    assert not ServiceLine.objects.exists()
    assert client.get(account_url(bw.world.alice)).status_code == 200
