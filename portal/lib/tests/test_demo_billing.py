"""The demo's bills: balanced accounts, a statement due, a parent paying for a child, seeded once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.db.models import Model
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.accounts.models import User
from portal.billing import ledger, statements
from portal.billing.models import (
    Account,
    Claim,
    CoverageBenefits,
    LedgerEntry,
    Payment,
    PriceItem,
    ServiceLine,
    Statement,
)
from portal.lib.seeding.billing_prices import PRICE_LIST, seed_price_list
from portal.lib.seeding.demo_appointments import seed_demo_appointments
from portal.lib.seeding.demo_billing import ROCHESTER, seed_demo_billing
from portal.lib.seeding.demo_users import DemoRefused, create_demo_users
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.schedules import seed_schedules
from portal.notifications.models import Notification, OutboxMessage
from portal.organization.models import Campus
from portal.patients.access import decide
from portal.patients.models import Coverage, Patient, Scope

pytestmark = pytest.mark.django_db
SEEDED: list[type[Model]] = [
    Account, ServiceLine, LedgerEntry, Claim, Statement, Payment, Coverage, CoverageBenefits, PriceItem,
    Notification, OutboxMessage,
]  # fmt: skip


@pytest.fixture
def demo(settings: Settings, tmp_path: Path) -> dt.datetime:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_SLOT_HORIZON_DAYS = 7
    settings.PORTAL_STATEMENT_DUE_DAYS = 30
    seed_organization()
    create_demo_users()
    now = timezone.now()
    seed_schedules({campus.slug: campus for campus in Campus.objects.all()}, now.date())
    seed_demo_appointments(now)
    assert seed_demo_billing(now) == 3
    return now


def patient(username: str) -> Patient:
    return Patient.objects.get(account__username=username)


def family(given_name: str) -> Patient:
    return Patient.objects.get(given_name=given_name, family_name="Brooks")


def test_every_account_is_the_sum_of_its_ledger_and_only_the_demo_family_has_bills(demo: dt.datetime) -> None:
    accounts = Account.objects.select_related("patient")
    assert {account.patient.given_name for account in accounts} == {"Jamie", "Mia", "Walter"}
    for account in accounts:
        assert account.balance_cents == ledger.derived_balance(account) > 0
        latest = account.statements.order_by("-issued_on", "-id").first()
        assert latest is not None and latest.amount_due_cents == account.balance_cents
        assert latest.due_on > demo.astimezone(ROCHESTER).date()
        for line in account.service_lines.all():
            assert line.patient_cents == line.charge_cents - line.insurance_paid_cents - line.adjustment_cents
            assert line.statement_id is not None and line.claim_id is not None
    # Dated back consistently: a statement issued now finds nothing new since the latest.
    for account in accounts:
        fresh = statements.issue_statement(account)
        assert (fresh.charges_cents, fresh.insurance_paid_cents, fresh.payments_cents) == (0, 0, 0)
        assert fresh.amount_due_cents == fresh.previous_balance_cents == account.balance_cents
    assert not LedgerEntry.objects.filter(posted_at__gt=demo).exists()


def test_jamie_has_insurance_claims_a_paid_statement_and_one_due_in_three_weeks(demo: dt.datetime) -> None:
    jamie = patient("demo-patient")
    account = Account.objects.get(patient=jamie)
    coverage = Coverage.objects.get(patient=jamie)
    assert coverage.status == Coverage.Status.VERIFIED and coverage.priority == Coverage.Priority.PRIMARY
    benefits = coverage.benefits
    assert (benefits.deductible_cents, benefits.deductible_met_cents) == (1_500_00, 900_00)
    assert (benefits.coinsurance_percent, benefits.copay_cents, benefits.out_of_pocket_max_cents) == (
        20,
        30_00,
        4_000_00,
    )
    claims = {claim.status: claim for claim in account.claims.all()}
    assert set(claims) == {Claim.Status.PAID, Claim.Status.PARTIAL, Claim.Status.DENIED}
    denied = claims[Claim.Status.DENIED]
    assert denied.paid_cents == 0 and "referral" in denied.denial_reason
    assert denied.patient_cents == sum(line.patient_cents for line in denied.lines.all())
    older, latest = account.statements.order_by("issued_on")
    today = demo.astimezone(ROCHESTER).date()
    assert latest.due_on == today + dt.timedelta(days=21)
    assert latest.amount_due_cents == account.balance_cents == 331_60
    assert "73562" in set(latest.lines.values_list("code", flat=True))  # the knee X-ray Jamie asked about
    # The older statement was paid in full by card through the sandbox, by Jamie.
    payment = Payment.objects.get(account=account)
    assert payment.status == Payment.Status.SUCCEEDED and payment.gateway == "sandbox"
    assert payment.statement == older and payment.amount_cents == older.amount_due_cents > 0
    assert payment.created_by == jamie.account and payment.receipt_number
    assert payment.completed_at is not None
    assert older.issued_on < payment.completed_at.astimezone(ROCHESTER).date() < latest.issued_on
    assert latest.previous_balance_cents == older.amount_due_cents
    assert latest.payments_cents == payment.amount_cents
    assert LedgerEntry.objects.get(payment=payment).amount_cents == payment.amount_cents
    # Visits are the demo's own: its appointments where it has them.
    linked = set(
        account.service_lines.exclude(appointment=None).values_list("appointment__source_id", flat=True)
    )
    assert linked == {"demo:jamie:p1", "demo:jamie:p4"}
    # Told of each statement: the older one read, the latest not yet.
    told = Notification.objects.filter(recipient=jamie.account, link__contains="/billing/statements/")
    assert [note.read_at is None for note in told.order_by("created_at")] == [False, True]


def test_the_parent_is_mias_guarantor_and_may_see_her_bill(demo: dt.datetime) -> None:
    parent = User.objects.get(username="demo-parent")
    mia, walter = family("Mia"), family("Walter")
    account = Account.objects.get(patient=mia)
    assert account.guarantor_patient == patient("demo-parent")
    assert account.guarantor_name == "Taylor Brooks"
    for dependent in (mia, walter):
        access = decide(parent, dependent)
        assert access is not None and access.allows(Scope.BILLING)
    assert account.statements.count() == 1 and account.balance_cents > 0
    coverage = Coverage.objects.get(patient=mia)
    assert coverage.subscriber_name == "Taylor Brooks"
    assert coverage.subscriber_relationship == Coverage.Subscriber.PARENT
    walters = Account.objects.get(patient=walter)
    assert 0 < walters.balance_cents < 100_00 and walters.guarantor_patient is None
    assert Coverage.objects.get(patient=walter).payer_name == "Medicare"
    # The parent is told of both statements.
    assert Notification.objects.filter(recipient=parent, link__contains="/billing/statements/").count() == 2


def test_seeding_again_changes_nothing(demo: dt.datetime) -> None:
    before = counts()
    balances = dict(Account.objects.values_list("pk", "balance_cents"))
    create_demo_users()
    assert seed_demo_billing() == 0
    assert counts() == before
    assert dict(Account.objects.values_list("pk", "balance_cents")) == balances


def test_the_price_list_has_self_pay_prices_and_visit_types(demo: dt.datetime) -> None:
    assert PriceItem.objects.count() == len(PRICE_LIST) >= 25
    for item in PriceItem.objects.all():
        assert item.self_pay_price_cents == item.price_cents * 60 // 100 > 0
    follow_up = PriceItem.objects.get(code="99213").visit_types.values_list("slug", flat=True)
    assert "follow-up-family-medicine" in follow_up and "video-follow-up-family-medicine" not in follow_up
    assert list(PriceItem.objects.get(code="90686").visit_types.values_list("slug", flat=True)) == [
        "flu-vaccine"
    ]
    # An administrator's change to a price is kept.
    PriceItem.objects.filter(code="99213").update(price_cents=170_00)
    assert seed_price_list() == 0
    assert PriceItem.objects.get(code="99213").price_cents == 170_00


def test_no_bills_in_production(settings: Settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(DemoRefused):
        seed_demo_billing()


def counts() -> list[int]:
    return [model._default_manager.count() for model in SEEDED]
