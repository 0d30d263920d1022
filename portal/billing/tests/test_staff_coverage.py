"""Insurance in the billing office: verifying a coverage with its benefits, or saying why it
could not be verified (the patient is told either way), and recording claims."""

from __future__ import annotations

from typing import Any

import pytest

from portal.billing.models import Claim, CoverageBenefits, LedgerEntry, ServiceLine
from portal.billing.tests.staff_support import (
    account_url,
    as_user,
    coverage_for,
    coverage_url,
    patient_url,
    today,
    written,
)
from portal.billing.tests.support import BillingWorld, balance, bill, billing_world
from portal.notifications.models import Notification
from portal.patients.models import Coverage
from portal.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def benefits(**fields: str) -> dict[str, str]:
    form = {
        "deductible": "1,500.00",
        "deductible_met": "250.50",
        "coinsurance_percent": "20",
        "copay": "35",
        "out_of_pocket_max": "6000",
        "out_of_pocket_met": "400.00",
    }
    form.update(fields)
    return form


def told(bw: BillingWorld) -> list[Notification]:
    return list(Notification.objects.filter(recipient=bw.world.alice_user, patient=bw.world.alice))


def test_verifying_keeps_the_benefits_in_cents_and_tells_the_patient(bw: BillingWorld) -> None:
    coverage = coverage_for(bw.world.alice)
    client = as_user(bw.clerk)
    page = client.get(coverage_url(coverage)).content.decode()
    assert "ACM123456789" in page and "Mark as verified" in page
    response = client.post(coverage_url(coverage), benefits())
    assert response.status_code == 302 and response["Location"] == account_url(bw.world.alice)
    coverage.refresh_from_db()
    assert (coverage.status, coverage.verified_by) == (Coverage.Status.VERIFIED, bw.clerk)
    assert coverage.verified_at is not None
    kept = CoverageBenefits.objects.get(coverage=coverage)
    assert (kept.deductible_cents, kept.deductible_met_cents, kept.coinsurance_percent) == (
        1500_00,
        250_50,
        20,
    )
    assert (kept.copay_cents, kept.out_of_pocket_max_cents, kept.out_of_pocket_met_cents) == (
        35_00,
        6000_00,
        400_00,
    )
    assert kept.updated_by == bw.clerk
    [notice] = told(bw)
    assert notice.title == "Insurance checked" and "Acme Health" in notice.body
    [event] = written("billing.staff_coverage_verify")
    assert event.patient_id == bw.world.alice.pk and event.actor_id == bw.clerk.pk
    # The account page shows what was entered; the form comes back filled in to correct.
    assert "Deductible $1,500.00 ($250.50 met)" in client.get(account_url(bw.world.alice)).content.decode()
    assert 'value="1500.00"' in client.get(coverage_url(coverage)).content.decode()


def test_benefits_can_be_corrected(bw: BillingWorld) -> None:
    coverage = coverage_for(bw.world.alice)
    client = as_user(bw.clerk)
    client.post(coverage_url(coverage), benefits())
    client.post(coverage_url(coverage), benefits(copay="50"))
    assert CoverageBenefits.objects.get().copay_cents == 50_00
    assert len(written("billing.staff_coverage_verify")) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"deductible_met": "1500.01"},
        {"out_of_pocket_met": "6000.01"},
        {"coinsurance_percent": "150"},
        {"coinsurance_percent": "-1"},
        {"coinsurance_percent": "twenty"},
        {"copay": "-35"},
        {"copay": "thirty"},
        {"deductible": "99999999999"},
        {"deductible": ""},
    ],
)
def test_bad_benefits_change_nothing(bw: BillingWorld, fields: dict[str, str]) -> None:
    coverage = coverage_for(bw.world.alice)
    response = as_user(bw.clerk).post(coverage_url(coverage), benefits(**fields))
    assert response.status_code == 400
    coverage.refresh_from_db()
    assert coverage.status == Coverage.Status.PENDING and coverage.verified_by is None
    assert not CoverageBenefits.objects.exists() and not told(bw)


def test_a_coverage_that_cannot_be_verified_says_why(bw: BillingWorld) -> None:
    coverage = coverage_for(bw.world.alice)
    client = as_user(bw.clerk)
    assert client.post(coverage_url(coverage, "coverage_reject"), {"reason": ""}).status_code == 400
    coverage.refresh_from_db()
    assert coverage.status == Coverage.Status.PENDING and not told(bw)
    response = client.post(
        coverage_url(coverage, "coverage_reject"), {"reason": "The insurer has no member with this ID."}
    )
    assert response.status_code == 302
    coverage.refresh_from_db()
    assert (coverage.status, coverage.verified_by) == (Coverage.Status.REJECTED, bw.clerk)
    [notice] = told(bw)
    assert notice.title == "Insurance could not be verified"
    assert "no member with this ID" in notice.body
    [event] = written("billing.staff_coverage_reject")
    assert event.detail["reason"] == "The insurer has no member with this ID."


def test_a_coverage_no_longer_used_cannot_be_verified(bw: BillingWorld) -> None:
    coverage = coverage_for(bw.world.alice, status=Coverage.Status.INACTIVE)
    client = as_user(bw.clerk)
    assert "no longer in use" in client.get(coverage_url(coverage)).content.decode()
    assert client.post(coverage_url(coverage), benefits()).status_code == 400
    coverage.refresh_from_db()
    assert coverage.status == Coverage.Status.INACTIVE and not CoverageBenefits.objects.exists()


def test_another_patient_s_coverage_is_a_404_under_this_patient(bw: BillingWorld) -> None:
    bobs = coverage_for(bw.world.bob)
    url = coverage_url(bobs).replace(f"/patients/{bw.world.bob.pk}/", f"/patients/{bw.world.alice.pk}/")
    client = as_user(bw.clerk)
    assert client.get(url).status_code == 404
    assert client.post(url, benefits()).status_code == 404
    bobs.refresh_from_db()
    assert bobs.status == Coverage.Status.PENDING


# Claims -----------------------------------------------------------------------------------------


def claim_form(**fields: Any) -> dict[str, Any]:
    form = {
        "number": "CLM-2026-0001",
        "payer_name": "Acme Health",
        "service_date": today().isoformat(),
        "submitted_on": today().isoformat(),
        "status": "partial",
        "billed": "250.00",
        "paid": "150.00",
        "adjusted": "20.00",
    }
    form.update(fields)
    return form


def test_a_claim_is_recorded_with_its_services_and_moves_no_money(bw: BillingWorld) -> None:
    alice = bw.world.alice
    line = bill(alice, 250_00, insurance_cents=150_00, adjustment_cents=20_00)
    other = bill(alice, 40_00)
    entries, owed = LedgerEntry.objects.count(), balance(alice)
    coverage = coverage_for(alice, status=Coverage.Status.VERIFIED)
    client = as_user(bw.clerk)
    page = client.get(patient_url("claim_new", alice)).content.decode()
    assert 'value="Acme Health"' in page and f'value="{line.pk}"' in page
    response = client.post(
        patient_url("claim_new", alice), claim_form(lines=[str(line.pk)], coverage=str(coverage.pk))
    )
    assert response.status_code == 302
    claim = Claim.objects.get()
    assert (claim.billed_cents, claim.paid_cents, claim.adjusted_cents, claim.patient_cents) == (
        250_00,
        150_00,
        20_00,
        80_00,
    )
    assert (claim.status, claim.coverage) == ("partial", coverage)
    assert list(claim.lines.all()) == [line]
    assert ServiceLine.objects.get(pk=other.pk).claim is None
    assert (LedgerEntry.objects.count(), balance(alice)) == (entries, owed)
    [event] = written("billing.staff_claim")
    assert event.detail["lines"] == [line.pk]
    assert "CLM-2026-0001" in client.get(account_url(alice)).content.decode()


@pytest.mark.parametrize(
    "fields",
    [
        {"paid": "200.00", "adjusted": "60.00"},
        {"billed": "0"},
        {"billed": "-1"},
        {"billed": "lots"},
        {"status": "bogus"},
        {"number": ""},
        {"number": "x" * 31},
        {"decided_on": "2000-01-01"},
        {"lines": ["987654321"]},
        {"coverage": "987654321"},
    ],
)
def test_bad_claims_are_refused(bw: BillingWorld, fields: dict[str, Any]) -> None:
    bill(bw.world.alice, 250_00)
    response = as_user(bw.clerk).post(patient_url("claim_new", bw.world.alice), claim_form(**fields))
    assert response.status_code == 400
    assert not Claim.objects.exists()


def test_a_claim_number_is_recorded_once_and_services_are_on_one_claim(bw: BillingWorld) -> None:
    alice = bw.world.alice
    line = bill(alice, 250_00)
    client = as_user(bw.clerk)
    client.post(patient_url("claim_new", alice), claim_form(lines=[str(line.pk)]))
    assert client.post(patient_url("claim_new", alice), claim_form()).status_code == 400
    again = client.post(patient_url("claim_new", alice), claim_form(number="CLM-2", lines=[str(line.pk)]))
    assert again.status_code == 400
    assert Claim.objects.count() == 1


def test_bob_s_services_and_coverage_are_not_offered_on_alice_s_claim(bw: BillingWorld) -> None:
    bobs_line = bill(bw.world.bob, 30_00)
    bobs_coverage = coverage_for(bw.world.bob)
    bill(bw.world.alice, 10_00)
    client = as_user(bw.clerk)
    form = claim_form(lines=[str(bobs_line.pk)])
    assert client.post(patient_url("claim_new", bw.world.alice), form).status_code == 400
    form = claim_form(coverage=str(bobs_coverage.pk))
    assert client.post(patient_url("claim_new", bw.world.alice), form).status_code == 400
    assert not Claim.objects.exists()
