"""The estimate calculation: copays, deductibles, coinsurance rounding, the out-of-pocket cap,
Good Faith Estimates, which coverage counts, and a property test of the sums."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.billing.estimates import (
    coverage_in_use,
    estimate,
    estimate_for,
    round_half_up,
    valid_until,
)
from portal.billing.models import CoverageBenefits, Estimate, PriceItem
from portal.patients.models import Coverage
from portal.test import World

DAY = dt.date(2026, 3, 2)


def item(price: int, self_pay: int | None = None, code: str = "99213") -> PriceItem:
    return PriceItem(
        code=code,
        description=f"Service {code}",
        price_cents=price,
        self_pay_price_cents=price if self_pay is None else self_pay,
    )


def plan(status: str = Coverage.Status.VERIFIED, **fields: Any) -> Coverage:
    values = {
        "priority": Coverage.Priority.PRIMARY,
        "payer_name": "Acme Health",
        "plan_name": "PPO",
        "member_id": "XY123456789",
        "subscriber_name": "Alice Able",
        "verified_at": timezone.now() if status == Coverage.Status.VERIFIED else None,
        **fields,
    }
    return Coverage(status=status, **values)


def benefits(coverage: Coverage | None = None, **fields: Any) -> CoverageBenefits:
    values = {
        "deductible_cents": 0,
        "deductible_met_cents": 0,
        "coinsurance_percent": 20,
        "copay_cents": 0,
        "out_of_pocket_max_cents": 0,
        "out_of_pocket_met_cents": 0,
        **fields,
    }
    return CoverageBenefits(coverage=coverage or plan(), **values)


def test_a_partly_met_deductible_comes_first_then_coinsurance() -> None:
    result = estimate(
        [item(200_00), item(100_00, code="80053")],
        benefits(deductible_cents=1000_00, deductible_met_cents=800_00, coinsurance_percent=20),
        self_pay=False,
        on=DAY,
    )
    # $200 left of the deductible, then 20% of the other $100.
    assert (result.total_cents, result.patient_cents, result.insurance_cents) == (300_00, 220_00, 80_00)
    assert not result.good_faith
    assert "You have $200.00 left of your $1,000.00 deductible." in result.assumptions
    assert "Coinsurance 20% after the deductible, rounded to the nearest cent." in result.assumptions
    assert any(
        line.startswith("Based on your primary coverage, Acme Health PPO, verified on")
        for line in result.assumptions
    )
    assert any(
        "price list on" in line and "the final bill depends on the care you receive" in line
        for line in result.assumptions
    )


def test_a_deductible_larger_than_the_bill_leaves_it_all_to_the_patient() -> None:
    result = estimate([item(300_00)], benefits(deductible_cents=2000_00), self_pay=False, on=DAY)
    assert (result.patient_cents, result.insurance_cents) == (300_00, 0)


def test_a_visit_with_a_copay_costs_the_copay() -> None:
    result = estimate(
        [item(250_00)], benefits(copay_cents=30_00, deductible_cents=1000_00), self_pay=False, on=DAY
    )
    assert (result.patient_cents, result.insurance_cents) == (30_00, 220_00)
    assert "A copay of $30.00 for this visit." in result.assumptions


def test_a_copay_is_never_more_than_the_price() -> None:
    result = estimate([item(20_00)], benefits(copay_cents=30_00), self_pay=False, on=DAY)
    assert (result.patient_cents, result.insurance_cents) == (20_00, 0)


@pytest.mark.parametrize(
    ("price", "percent", "patient"),
    [
        (101, 50, 51),  # 50.5 cents rounds half up
        (10, 15, 2),  # 1.5 cents -> 2
        (101, 25, 25),  # 25.25 cents -> 25
        (333, 33, 110),  # 109.89 -> 110
        (1, 49, 0),  # 0.49 -> 0
        (1, 50, 1),  # 0.5 -> 1
    ],
)
def test_coinsurance_rounds_half_up_to_the_cent(price: int, percent: int, patient: int) -> None:
    result = estimate([item(price)], benefits(coinsurance_percent=percent), self_pay=False, on=DAY)
    assert result.patient_cents == patient
    assert result.insurance_cents == price - patient


def test_round_half_up() -> None:
    assert [round_half_up(n, 100) for n in (0, 49, 50, 51, 149, 150, 250)] == [0, 0, 1, 1, 1, 2, 3]


def test_the_out_of_pocket_maximum_caps_the_patients_share() -> None:
    result = estimate(
        [item(900_00)],
        benefits(
            deductible_cents=5000_00,
            out_of_pocket_max_cents=3000_00,
            out_of_pocket_met_cents=2950_00,
        ),
        self_pay=False,
        on=DAY,
    )
    assert (result.patient_cents, result.insurance_cents) == (50_00, 850_00)
    assert "You have $50.00 left before your out-of-pocket maximum of $3,000.00." in result.assumptions
    assert "Your share is capped by your out-of-pocket maximum." in result.assumptions


def test_a_met_out_of_pocket_maximum_means_insurance_pays_everything() -> None:
    result = estimate(
        [item(400_00)],
        benefits(copay_cents=40_00, out_of_pocket_max_cents=1000_00, out_of_pocket_met_cents=1200_00),
        self_pay=False,
        on=DAY,
    )
    assert (result.patient_cents, result.insurance_cents) == (0, 400_00)


def test_self_pay_is_a_good_faith_estimate_at_self_pay_prices() -> None:
    result = estimate([item(250_00, 180_00), item(120_00, 60_00, "80053")], None, self_pay=True, on=DAY)
    assert result.good_faith
    assert result.kind == Estimate.Kind.GOOD_FAITH
    assert (result.total_cents, result.patient_cents, result.insurance_cents) == (240_00, 240_00, 0)
    assert [line.price_cents for line in result.items] == [180_00, 60_00]
    assert (
        "A Good Faith Estimate: if your bill is $400.00 or more above this estimate you may dispute it."
        in result.assumptions
    )


def test_the_dispute_threshold_in_the_wording_follows_the_setting(settings: Any) -> None:
    settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS = 250_00
    result = estimate([item(100_00)], None, self_pay=True, on=DAY)
    assert any("$250.00 or more above" in line for line in result.assumptions)


def test_a_pending_coverage_is_said_to_be_not_yet_verified() -> None:
    pending = plan(Coverage.Status.PENDING)
    result = estimate([item(100_00)], benefits(pending), self_pay=False, on=DAY)
    assert result.assumptions[0] == (
        "Based on your primary coverage, Acme Health PPO, which the clinic has not verified yet: "
        "the estimate may change once it is checked."
    )


def test_a_coverage_without_benefits_on_file_shows_the_full_price() -> None:
    result = estimate([item(100_00, 70_00)], None, self_pay=False, coverage=plan(), on=DAY)
    assert not result.good_faith
    assert (result.total_cents, result.patient_cents, result.insurance_cents) == (100_00, 100_00, 0)
    assert any("benefits on file yet" in line for line in result.assumptions)


def test_negative_prices_and_odd_benefits_do_not_make_negative_shares() -> None:
    result = estimate(
        [item(-5_00), item(100_00)],
        benefits(deductible_cents=-10, deductible_met_cents=-10, coinsurance_percent=250),
        self_pay=False,
        on=DAY,
    )
    assert (result.total_cents, result.patient_cents, result.insurance_cents) == (100_00, 100_00, 0)


def test_valid_until() -> None:
    assert valid_until(Estimate.Kind.INSURED, DAY) == DAY + dt.timedelta(days=30)
    assert valid_until(Estimate.Kind.GOOD_FAITH, DAY) == dt.date(2027, 3, 2)
    assert valid_until(Estimate.Kind.GOOD_FAITH, dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)


prices = st.lists(st.tuples(st.integers(0, 5_000_000), st.integers(0, 5_000_000)), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    prices=prices,
    deductible=st.integers(0, 2_000_000),
    deductible_met=st.integers(0, 2_000_000),
    percent=st.integers(0, 100),
    copay=st.one_of(st.just(0), st.integers(0, 50_000)),
    oop_max=st.integers(0, 5_000_000),
    oop_met=st.integers(0, 5_000_000),
    self_pay=st.booleans(),
)
def test_the_shares_always_add_up(
    prices: list[tuple[int, int]],
    deductible: int,
    deductible_met: int,
    percent: int,
    copay: int,
    oop_max: int,
    oop_met: int,
    self_pay: bool,
) -> None:
    items = [item(price, self_price, code=str(index)) for index, (price, self_price) in enumerate(prices)]
    plan_benefits = benefits(
        deductible_cents=deductible,
        deductible_met_cents=deductible_met,
        coinsurance_percent=percent,
        copay_cents=copay,
        out_of_pocket_max_cents=oop_max,
        out_of_pocket_met_cents=oop_met,
    )
    result = estimate(items, plan_benefits, self_pay=self_pay, on=DAY)
    assert result.patient_cents + result.insurance_cents == result.total_cents
    assert 0 <= result.patient_cents <= result.total_cents
    assert result.total_cents == sum(line.price_cents for line in result.items)
    assert all(isinstance(value, int) for value in (result.total_cents, result.patient_cents))
    if self_pay:
        assert result.insurance_cents == 0
        assert result.total_cents == sum(self_price for _price, self_price in prices)
    elif oop_max:
        assert result.patient_cents <= max(0, oop_max - oop_met)


# Which coverage counts (database) ---------------------------------------------------------------


def saved_plan(world: World, status: str, **fields: Any) -> Coverage:
    coverage = plan(status, **fields)
    coverage.patient = world.alice
    coverage.save()
    return coverage


@pytest.mark.django_db
def test_a_verified_primary_coverage_is_preferred_to_a_pending_one(world: World) -> None:
    pending = saved_plan(world, Coverage.Status.PENDING, plan_name="New card")
    verified = saved_plan(world, Coverage.Status.VERIFIED)
    saved_plan(world, Coverage.Status.VERIFIED, priority=Coverage.Priority.SECONDARY)
    assert coverage_in_use(world.alice) == verified
    verified.status = Coverage.Status.INACTIVE
    verified.save()
    assert coverage_in_use(world.alice) == pending


@pytest.mark.django_db
def test_an_ended_coverage_does_not_count(world: World) -> None:
    saved_plan(world, Coverage.Status.VERIFIED, effective_until=timezone.localdate() - dt.timedelta(days=1))
    saved_plan(world, Coverage.Status.REJECTED)
    assert coverage_in_use(world.alice) is None


@pytest.mark.django_db
def test_without_coverage_the_estimate_is_a_good_faith_estimate(world: World) -> None:
    result = estimate_for(world.alice, [item(250_00, 180_00)], self_pay=False)
    assert result.good_faith
    assert result.patient_cents == 180_00


@pytest.mark.django_db
def test_with_coverage_and_benefits_the_estimate_uses_them(world: World) -> None:
    coverage = saved_plan(world, Coverage.Status.VERIFIED)
    CoverageBenefits.objects.create(coverage=coverage, copay_cents=25_00)
    result = estimate_for(world.alice, [item(250_00, 180_00)], self_pay=False)
    assert (result.good_faith, result.patient_cents, result.coverage) == (False, 25_00, coverage)
    chosen_self_pay = estimate_for(world.alice, [item(250_00, 180_00)], self_pay=True)
    assert (chosen_self_pay.good_faith, chosen_self_pay.patient_cents) == (True, 180_00)
