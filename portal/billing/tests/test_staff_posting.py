"""The billing office posts charges and adjustments, names the guarantor and issues statements:
each moves the balance by exactly its amount, writes its ledger entries and its audit event,
and bad input changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from portal.billing.models import Account, Claim, LedgerEntry, PriceItem, ServiceLine, Statement
from portal.billing.tests.staff_support import account_url, as_user, patient_url, today, written
from portal.billing.tests.support import (
    BillingWorld,
    assert_balanced,
    balance,
    bill,
    billing_world,
    new_key,
)
from portal.notifications.models import Notification
from portal.test import World, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def price_list() -> PriceItem:
    return PriceItem.objects.create(
        code="99214", description="Office visit, moderate", price_cents=180_00, self_pay_price_cents=150_00
    )


def charge_form(**fields: Any) -> dict[str, Any]:
    form = {"service_date": (today() - dt.timedelta(days=3)).isoformat(), "key": new_key()}
    form.update(fields)
    return form


# Charges ----------------------------------------------------------------------------------------


def test_the_price_list_fills_in_the_charge(bw: BillingWorld) -> None:
    price_list()
    client = as_user(bw.clerk)
    page = client.get(patient_url("charge", bw.world.alice), {"item": "99214"}).content.decode()
    assert 'value="180.00"' in page and 'value="Office visit, moderate"' in page
    assert "$150.00" in page  # the self-pay price, for the clerk to choose
    unknown = client.get(patient_url("charge", bw.world.alice), {"item": "NOPE"}).content.decode()
    assert "No active service on the price list has that code" in unknown


def test_a_charge_from_the_price_list_is_posted_once_and_audited(bw: BillingWorld) -> None:
    price_list()
    alice = bw.world.alice
    bill(alice, 20_00)
    response = as_user(bw.clerk).post(patient_url("charge", alice), charge_form(item="99214"))
    assert response.status_code == 302 and response["Location"] == account_url(alice)
    line = ServiceLine.objects.get(code="99214")
    assert (line.description, line.charge_cents, line.patient_cents) == (
        "Office visit, moderate",
        180_00,
        180_00,
    )
    assert balance(alice) == 200_00
    entry = LedgerEntry.objects.get(service_line=line)
    assert (entry.kind, entry.amount_cents, entry.posted_by) == ("charge", 180_00, bw.clerk)
    [event] = written("billing.staff_charge")
    assert (event.actor_id, event.patient_id, event.actor_role) == (bw.clerk.pk, alice.pk, "staff")
    assert event.detail["charge_cents"] == 180_00
    assert_balanced(line.account)


def test_a_typed_charge_with_insurance_leaves_the_patient_s_part(bw: BillingWorld) -> None:
    alice = bw.world.alice
    claim_account = Account.objects.get(pk=bill(alice, 10_00).account_id)
    claim = Claim.objects.create(
        account=claim_account,
        number="CLM-1",
        payer_name="Acme Health",
        service_date=today(),
        submitted_on=today(),
    )
    form = charge_form(
        code="80053",
        description="Metabolic panel",
        amount="$1,200.50",
        insurance_paid="900",
        adjustment="200.25",
        claim=str(claim.pk),
    )
    response = as_user(bw.clerk).post(patient_url("charge", alice), form)
    assert response.status_code == 302
    line = ServiceLine.objects.get(code="80053")
    assert (line.charge_cents, line.insurance_paid_cents, line.adjustment_cents) == (1200_50, 900_00, 200_25)
    assert line.patient_cents == 100_25 and line.claim == claim
    assert balance(alice) == 10_00 + 100_25
    kinds = sorted(LedgerEntry.objects.filter(service_line=line).values_list("kind", "payer"))
    assert kinds == [("adjustment", "insurance"), ("charge", "patient"), ("payment", "insurance")]


@pytest.mark.parametrize(
    "fields",
    [
        {"code": "1", "description": "x", "amount": "-5.00"},
        {"code": "1", "description": "x", "amount": "abc"},
        {"code": "1", "description": "x", "amount": "0"},
        {"code": "1", "description": "x", "amount": "1.234"},
        {"code": "1", "description": "x", "amount": "99999999999999999999"},
        {"code": "1", "description": "x", "amount": "10000000.01"},
        {"code": "1", "description": "x"},
        {"code": "", "description": "x", "amount": "5"},
        {"code": "1", "description": "", "amount": "5"},
        {"code": "1" * 21, "description": "x", "amount": "5"},
        {"code": "1", "description": "x" * 201, "amount": "5"},
        {"item": "NOPE"},
        {"code": "1", "description": "x", "amount": "5", "insurance_paid": "4", "adjustment": "2"},
        {"code": "1", "description": "x", "amount": "5", "insurance_paid": "-1"},
        {"code": "1", "description": "x", "amount": "5", "claim": "987654321"},
        {"code": "1", "description": "x", "amount": "5", "claim": "abc"},
        {"code": "1", "description": "x", "amount": "5", "service_date": "2999-01-01"},
        {"code": "1", "description": "x", "amount": "5", "service_date": "0001-01-01"},
        {"code": "1", "description": "x", "amount": "5", "service_date": "not a day"},
    ],
)
def test_bad_charges_are_refused_and_change_nothing(bw: BillingWorld, fields: dict[str, str]) -> None:
    alice = bw.world.alice
    bill(alice, 10_00)
    response = as_user(bw.clerk).post(patient_url("charge", alice), charge_form(**fields))
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert ServiceLine.objects.count() == 1
    assert balance(alice) == 10_00
    assert not written("billing.staff_charge")


def test_a_claim_on_another_account_cannot_be_named(bw: BillingWorld) -> None:
    bob_line = bill(bw.world.bob, 10_00)
    claim = Claim.objects.create(
        account=bob_line.account, number="CLM-B", payer_name="X", service_date=today(), submitted_on=today()
    )
    form = charge_form(code="1", description="x", amount="5", claim=str(claim.pk))
    assert as_user(bw.clerk).post(patient_url("charge", bw.world.alice), form).status_code == 400
    assert not ServiceLine.objects.filter(account__patient=bw.world.alice).exists()


# Adjustments ------------------------------------------------------------------------------------


def test_an_adjustment_lowers_the_balance_by_exactly_its_amount(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    response = as_user(bw.clerk).post(
        patient_url("adjustment", alice), {"amount": "30.10", "reason": "Courtesy discount", "key": new_key()}
    )
    assert response.status_code == 302
    assert balance(alice) == 69_90
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.ADJUSTMENT)
    assert (entry.payer, entry.amount_cents, entry.reason, entry.posted_by) == (
        "clinic",
        30_10,
        "Courtesy discount",
        bw.clerk,
    )
    [event] = written("billing.staff_adjustment")
    assert event.patient_id == alice.pk and event.detail == {"amount_cents": 30_10}
    assert_balanced(entry.account)


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": "-10.00", "reason": "Adding money"},
        {"amount": "0.00", "reason": "Nothing"},
        {"amount": "ten", "reason": "Words"},
        {"amount": "100.01", "reason": "More than is owed"},
        {"amount": "99999999999", "reason": "Huge"},
        {"amount": "10.00", "reason": ""},
        {"amount": "10.00", "reason": "x" * 301},
    ],
)
def test_bad_adjustments_are_refused_and_change_nothing(bw: BillingWorld, fields: dict[str, str]) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    response = as_user(bw.clerk).post(patient_url("adjustment", alice), {**fields, "key": new_key()})
    assert response.status_code == 400
    assert balance(alice) == 100_00
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()
    assert not written("billing.staff_adjustment")


# Guarantor --------------------------------------------------------------------------------------


def test_the_guarantor_can_be_another_patient_by_clinic_number(bw: BillingWorld) -> None:
    alice, bob = bw.world.alice, bw.world.bob
    bill(alice, 10_00)
    client = as_user(bw.clerk)
    response = client.post(patient_url("guarantor", alice), {"clinic_number": bob.clinic_number})
    assert response.status_code == 302
    account = Account.objects.get(patient=alice)
    assert (account.guarantor_patient, account.guarantor_name) == (bob, "Bob Baker")
    [event] = written("billing.staff_guarantor")
    assert event.detail == {"guarantor_patient": bob.pk}
    assert "Bob Baker" in client.get(account_url(alice)).content.decode()
    client.post(patient_url("guarantor", alice), {"guarantor_name": "Ann Able"})
    account.refresh_from_db()
    assert (account.guarantor_patient, account.guarantor_name) == (None, "Ann Able")


@pytest.mark.parametrize(
    "fields",
    [{}, {"clinic_number": "99999999"}, {"clinic_number": "10000001"}, {"guarantor_name": "x" * 201}],
)
def test_a_bad_guarantor_changes_nothing(bw: BillingWorld, fields: dict[str, str]) -> None:
    alice = bw.world.alice
    bill(alice, 10_00)
    assert as_user(bw.clerk).post(patient_url("guarantor", alice), fields).status_code == 400
    account = Account.objects.get(patient=alice)
    assert (account.guarantor_patient, account.guarantor_name) == (None, "Alice Able")


def test_a_clerk_cannot_make_themself_the_guarantor(bw: BillingWorld) -> None:
    make_patient("10000077", "Bill", "Staff", bw.world.campus, account=bw.clerk)
    bill(bw.world.alice, 10_00)
    response = as_user(bw.clerk).post(patient_url("guarantor", bw.world.alice), {"clinic_number": "10000077"})
    assert response.status_code == 400
    assert Account.objects.get(patient=bw.world.alice).guarantor_patient is None


# Statements -------------------------------------------------------------------------------------


def test_a_statement_is_issued_once_and_the_patient_is_told(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 75_00)
    client = as_user(bw.clerk)
    assert client.get(patient_url("statement_new", alice)).status_code == 200
    response = client.post(patient_url("statement_new", alice))
    assert response.status_code == 302
    statement = Statement.objects.get()
    assert (statement.amount_due_cents, statement.created_by) == (75_00, bw.clerk)
    assert Notification.objects.filter(recipient=bw.world.alice_user, title="New statement").exists()
    [event] = written("billing.staff_statement")
    assert event.detail == {"amount_due_cents": 75_00}
    again = client.post(patient_url("statement_new", alice))
    assert again.status_code == 400 and "Nothing has changed" in again.content.decode()
    assert Statement.objects.count() == 1
    assert balance(alice) == 75_00


def test_an_empty_account_has_nothing_to_state(bw: BillingWorld) -> None:
    response = as_user(bw.clerk).post(patient_url("statement_new", bw.world.alice))
    assert response.status_code == 400
    assert not Statement.objects.exists()


def test_a_double_submitted_charge_posts_once(bw: BillingWorld) -> None:
    alice = bw.world.alice
    form = charge_form(code="99213", description="Office visit", amount="120.00")
    client = as_user(bw.clerk)
    assert client.post(patient_url("charge", alice), form).status_code == 302
    assert client.post(patient_url("charge", alice), form).status_code == 302
    assert ServiceLine.objects.filter(account__patient=alice).count() == 1
    assert balance(alice) == 120_00
    assert len(written("billing.staff_charge")) == 1


def test_a_charge_form_without_its_key_is_refused(bw: BillingWorld) -> None:
    form = charge_form(code="99213", description="Office visit", amount="120.00")
    del form["key"]
    assert as_user(bw.clerk).post(patient_url("charge", bw.world.alice), form).status_code == 400
    assert not ServiceLine.objects.exists()


def test_a_double_submitted_adjustment_posts_once(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    form = {"amount": "30.00", "reason": "Courtesy discount", "key": new_key()}
    client = as_user(bw.clerk)
    assert client.post(patient_url("adjustment", alice), form).status_code == 302
    assert client.post(patient_url("adjustment", alice), form).status_code == 302
    assert balance(alice) == 70_00
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).count() == 1


def test_a_key_used_for_one_patient_is_refused_for_another(bw: BillingWorld) -> None:
    bill(bw.world.alice, 100_00)
    bill(bw.world.bob, 100_00)
    form = {"amount": "30.00", "reason": "Courtesy discount", "key": new_key()}
    client = as_user(bw.clerk)
    assert client.post(patient_url("adjustment", bw.world.alice), form).status_code == 302
    assert client.post(patient_url("adjustment", bw.world.bob), form).status_code == 400
    assert balance(bw.world.bob) == 100_00
