"""Payment plan rules: exact splits in whole cents, monthly dates, the options the rules allow."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from portal.billing import plans


def test_a_hundred_dollars_over_three_months_splits_exactly():
    assert plans.split_cents(100_00, 3) == [33_34, 33_33, 33_33]


@given(total=st.integers(min_value=1, max_value=10_000_000_00), months=st.integers(min_value=1, max_value=60))
def test_a_split_adds_up_exactly_and_differs_by_at_most_a_cent(total, months):
    parts = plans.split_cents(total, months)
    assert len(parts) == months
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1
    assert parts == sorted(parts, reverse=True)


@given(total=st.integers(min_value=0, max_value=1_000_000_00))
def test_every_option_keeps_each_instalment_at_or_above_the_minimum(total):
    options = plans.plan_options(total)
    for months, first in options:
        parts = plans.split_cents(total, months)
        assert first == parts[0]
        assert min(parts) >= 25_00
        assert 2 <= months <= 12
    if total < 100_00:
        assert options == []


def test_options_for_a_hundred_dollars_stop_at_the_smallest_instalment():
    assert plans.plan_options(100_00) == [(2, 50_00), (3, 33_34), (4, 25_00)]
    assert plans.plan_options(99_99) == []


def test_options_never_pass_the_most_months():
    assert [months for months, _ in plans.plan_options(10_000_00)] == list(range(2, 13))


@override_settings(
    PORTAL_PLAN_MAX_MONTHS=6, PORTAL_PLAN_MIN_INSTALMENT_CENTS=10_00, PORTAL_PLAN_MIN_BALANCE_CENTS=50_00
)
def test_options_follow_the_clinics_settings():
    assert [months for months, _ in plans.plan_options(60_00)] == [2, 3, 4, 5, 6]
    assert plans.plan_options(49_99) == []


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2026, 1, 31), 2, dt.date(2026, 3, 31)),
        (dt.date(2026, 11, 30), 3, dt.date(2027, 2, 28)),
        (dt.date(2026, 12, 15), 1, dt.date(2027, 1, 15)),
        (dt.date(2026, 5, 5), 12, dt.date(2027, 5, 5)),
    ],
)
def test_monthly_dates_keep_the_day_or_the_months_last_day(start, months, expected):
    assert plans.add_months(start, months) == expected


def test_a_schedule_starts_on_the_chosen_day_and_keeps_its_day_of_the_month():
    rows = plans.schedule(100_00, 3, dt.date(2026, 1, 31))
    assert rows == [
        (dt.date(2026, 1, 31), 33_34),
        (dt.date(2026, 2, 28), 33_33),
        (dt.date(2026, 3, 31), 33_33),
    ]


@pytest.mark.parametrize(
    ("balance", "total", "months", "words"),
    [
        (99_00, 99_00, 2, "balance of $100.00 or more"),
        (500_00, 600_00, 3, "more than is owed ($500.00)"),
        (500_00, 90_00, 2, "at least $100.00"),
        (500_00, 500_00, 13, "from 2 to 12 months"),
        (500_00, 500_00, 1, "from 2 to 12 months"),
        (100_00, 100_00, 5, "at least $25.00. Choose fewer months"),
    ],
)
def test_plans_outside_the_rules_are_refused_saying_why(balance, total, months, words):
    with pytest.raises(plans.PlanRefused) as refused:
        plans.check_plan(balance, total, months)
    assert words in refused.value.message


def test_the_first_payment_is_today_or_within_thirty_days():
    today = dt.date(2026, 3, 10)
    plans.check_start(today, today)
    plans.check_start(today + dt.timedelta(days=30), today)
    for day in (today - dt.timedelta(days=1), today + dt.timedelta(days=31)):
        with pytest.raises(plans.PlanRefused, match="within 30 days"):
            plans.check_start(day, today)
