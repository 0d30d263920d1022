"""Billing in the browser, end to end, through the sandbox card processor: a patient pays a
statement by typing a test card (the page's script turns it into a token); a declined card
says so and changes nothing; a double click on "Pay" charges once; a card that needs the
bank's check goes to the sandbox's test bank and back to a paid receipt; a saved card pays
the first instalment of a payment plan when the worker's sweep runs; and the booking confirm
page shows what the visit should cost. Each checks the page with axe at desktop and phone
width, and what the database holds afterwards.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks.base import TaskResult
from django_tasks.signals import task_enqueued
from playwright.sync_api import BrowserContext, Page, Request, expect

from portal.accounts.models import User
from portal.billing import payments
from portal.billing.models import (
    Account,
    CoverageBenefits,
    Estimate,
    Instalment,
    LedgerEntry,
    Payment,
    PaymentPlan,
    PriceItem,
    SandboxCharge,
    SavedCard,
    Statement,
)
from portal.billing.tests.overview_support import billed_statement
from portal.billing.tests.support import DECLINED, NEEDS_CHECK, VISA, BillingWorld, bill, billing_world
from portal.browser_tests.conftest import LogIn, check_page
from portal.patients.models import Coverage
from portal.patients.tests.support import sign_in_recently
from portal.scheduling.models import Appointment
from portal.scheduling.tests.support import local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.browser

DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


@pytest.fixture
def log_in_recently(context: BrowserContext, live_server: Any) -> LogIn:
    """Sign the browser in as if the user had just typed their password (saving a card asks for that)."""

    def log_in_as(user: User) -> None:
        client = Client()
        sign_in_recently(client, user)
        session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )

    return log_in_as


def the_statement(world: World) -> Statement:
    """Alice's statement: $250.00 billed, $150.00 paid by insurance, $20.00 adjusted: $80.00 due."""
    statement = billed_statement(world.alice, (250_00, 150_00, 20_00))
    assert statement.amount_due_cents == 80_00
    return statement


def balance(world: World) -> int:
    return Account.objects.get(patient=world.alice).balance_cents


def type_card(page: Page, number: str) -> None:
    """Type a card into the sandbox's card form, key by key, as a payer would."""
    page.get_by_role("textbox", name="Card number").press_sequentially(number)
    page.get_by_role("textbox", name="Expiry month").press_sequentially("12")
    page.get_by_role("textbox", name="Expiry year").press_sequentially(str(timezone.now().year + 2))
    page.get_by_role("textbox", name="Security code").press_sequentially("123")


def spaced(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def open_statement_and_pay(page: Page, statement: Statement) -> None:
    page.goto("/billing/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    check_page(page)
    page.get_by_role("link", name=f"Statement {statement.number}").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(statement.number)
    check_page(page)
    page.get_by_role("link", name="Pay this statement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay your bill")
    expect(
        page.get_by_label(re.compile(f"^What is left on statement {statement.number}: \\$80.00"))
    ).to_be_checked()
    expect(page.get_by_label("A new credit or debit card")).to_be_checked()
    check_page(page)


def continue_to_confirm(page: Page, number: str) -> None:
    type_card(page, spaced(number))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your payment")
    expect(page.get_by_text(f"ending {number[-4:]}").first).to_be_visible()
    check_page(page)


def ledger_payments(world: World) -> int:
    return LedgerEntry.objects.filter(
        account__patient=world.alice, kind=LedgerEntry.Kind.PAYMENT, payment__isnull=False
    ).count()


# Paying ------------------------------------------------------------------------------------


def test_a_patient_pays_a_statement_with_a_test_card(page: Page, bw: BillingWorld, log_in: LogIn) -> None:
    world = bw.world
    statement = the_statement(world)
    log_in(world.alice_user)
    open_statement_and_pay(page, statement)
    continue_to_confirm(page, VISA)
    expect(
        page.get_by_text(re.compile(r"You are paying \$80\.00 from Visa ending 4242 for account"))
    ).to_be_visible()
    assert not Payment.objects.exists()  # the confirm step charges nothing

    page.get_by_role("button", name="Pay $80.00").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment receipt")
    expect(page.get_by_role("status")).to_contain_text("Paid. Thank you, we received your payment.")
    check_page(page)

    payment = Payment.objects.get()
    assert page.url.endswith(f"/billing/payments/{payment.pk}/")
    expect(page.get_by_text(payment.receipt_number or "no receipt number")).to_be_visible()
    assert payment.status == Payment.Status.SUCCEEDED
    assert (payment.amount_cents, payment.last4, payment.brand) == (80_00, "4242", "Visa")
    assert payment.statement_id == statement.pk
    assert payment.created_by_id == world.alice_user.pk
    assert balance(world) == 0
    assert SandboxCharge.objects.get().amount_cents == 80_00
    assert ledger_payments(world) == 1

    page.get_by_role("link", name="Back to billing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    expect(page.get_by_role("link", name="Pay now")).to_have_count(0)
    check_page(page)


def test_a_declined_card_says_so_and_changes_nothing(page: Page, bw: BillingWorld, log_in: LogIn) -> None:
    world = bw.world
    statement = the_statement(world)
    log_in(world.alice_user)
    open_statement_and_pay(page, statement)
    continue_to_confirm(page, DECLINED)
    page.get_by_role("button", name="Pay $80.00").click()

    alert = page.get_by_role("alert").filter(has_text="The payment did not go through")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("declined")
    expect(alert).to_contain_text("Your balance is still $80.00.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay your bill")
    check_page(page)

    assert balance(world) == 80_00
    assert ledger_payments(world) == 0
    assert not Payment.objects.filter(status=Payment.Status.SUCCEEDED).exists()
    assert list(Payment.objects.values_list("status", flat=True)) == [Payment.Status.DECLINED]
    assert not LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.PAYMENT, payer=LedgerEntry.Payer.PATIENT
    ).exists()

    # The card form is back, empty, with a new key: the payer can try another card.
    expect(page.get_by_role("textbox", name="Card number")).to_have_value("")
    continue_to_confirm(page, VISA)
    page.get_by_role("button", name="Pay $80.00").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment receipt")
    check_page(page)
    assert balance(world) == 0
    assert ledger_payments(world) == 1


def click_pay_twice(page: Page, monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    """Click "Pay $80.00" twice, the second time while the first click's answer is on its way.

    Chromium folds two clicks in the same instant (Playwright's `dblclick`) into one form
    submission, so the second click comes once the first request has been handled and
    before its answer is back, as a person's slower second click on a busy server does:
    the first answer is held back a moment so the page is still there to click. Both
    requests reach the server with the same key. (Two requests at the very same moment
    are the payment core's race tests; the live server's threads cannot overlap writes
    on SQLite's in-memory test database.)
    """
    real_do_pay = payments.do_pay
    paid, answered = threading.Event(), threading.Event()

    def held_back(*args: Any, **kwargs: Any) -> Payment:
        try:
            payment = real_do_pay(*args, **kwargs)
        finally:
            if not paid.is_set():
                paid.set()
                time.sleep(1)
                answered.set()
        return payment

    monkeypatch.setattr(payments, "do_pay", held_back)
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request) if request.method == "POST" else None)
    box = page.get_by_role("button", name="Pay $80.00").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    assert paid.wait(10), "the first click did not pay"
    page.mouse.click(x, y)  # the mouse, unlike a locator, does not wait for the page to change
    assert answered.wait(10)
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Check your payment")
    assert len(sent) == 2, [request.url for request in sent]
    assert page_key(sent[0]) == page_key(sent[1])
    second = sent[1].response()  # the server answered the second click too
    assert second is not None and second.status == 302, second
    return sent


def page_key(request: Request) -> str:
    data = request.post_data_json
    assert data is not None
    return str(data["key"])


def test_a_double_click_on_pay_charges_once(
    page: Page, bw: BillingWorld, log_in: LogIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = bw.world
    statement = the_statement(world)
    log_in(world.alice_user)
    open_statement_and_pay(page, statement)
    continue_to_confirm(page, VISA)
    click_pay_twice(page, monkeypatch)
    # The second click's answer is the receipt of the payment the first one made.
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment receipt")
    check_page(page)

    payment = Payment.objects.get()
    assert page.url.endswith(f"/billing/payments/{payment.pk}/")
    assert payment.status == Payment.Status.SUCCEEDED
    assert SandboxCharge.objects.count() == 1
    assert ledger_payments(world) == 1
    assert balance(world) == 0


def test_a_card_that_needs_the_banks_check_is_paid_after_confirming(
    page: Page, bw: BillingWorld, log_in: LogIn
) -> None:
    world = bw.world
    statement = the_statement(world)
    log_in(world.alice_user)
    open_statement_and_pay(page, statement)
    continue_to_confirm(page, NEEDS_CHECK)
    page.get_by_role("button", name="Pay $80.00").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your bank's check")
    expect(page.get_by_text("Your bank asks you to confirm a payment of $80.00")).to_be_visible()
    check_page(page)
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.REQUIRES_ACTION
    assert balance(world) == 80_00
    assert ledger_payments(world) == 0

    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment receipt")
    expect(page.get_by_role("status")).to_contain_text("Paid.")
    check_page(page)
    assert page.url.endswith(f"/billing/payments/{payment.pk}/")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert SandboxCharge.objects.get().status == "succeeded"
    assert balance(world) == 0
    assert ledger_payments(world) == 1


# A payment plan ------------------------------------------------------------------------------


@pytest.fixture
def queued_tasks(settings: Any) -> Iterator[list[str]]:
    """Tasks are queued, not run, as with the worker (the test runs the sweep itself); the
    list names each task queued, from whichever thread."""
    settings.TASKS = DUMMY_TASKS
    queued: list[str] = []

    def note(sender: Any, task_result: TaskResult[Any], **kwargs: Any) -> None:
        queued.append(task_result.task.module_path)

    task_enqueued.connect(note)
    yield queued
    task_enqueued.disconnect(note)


def test_a_payment_plans_first_instalment_is_charged_by_the_worker(
    page: Page, bw: BillingWorld, log_in_recently: LogIn, queued_tasks: list[str]
) -> None:
    world = bw.world
    bill(world.alice, 300_00)
    log_in_recently(world.alice_user)

    # Save a card without paying.
    page.goto("/billing/cards/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your saved cards")
    check_page(page)
    page.get_by_role("link", name="Add a card").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a card")
    check_page(page)
    type_card(page, spaced(VISA))
    page.get_by_role("button", name="Save the card").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your saved cards")
    expect(page.get_by_text("Your card ending 4242 is saved.")).to_be_visible()
    check_page(page)
    card = SavedCard.objects.get(owner=world.alice_user)
    assert (card.last4, card.removed_at) == ("4242", None)
    assert not Payment.objects.exists()

    # Set up the plan: three months from today.
    page.goto("/billing/plans/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment plans")
    check_page(page)
    page.goto("/billing/plans/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up a payment plan")
    check_page(page)
    page.get_by_label(re.compile(r"^3 months: \$100\.00 a month")).check()
    page.get_by_label(re.compile("Visa .* 4242")).check()
    expect(page.get_by_label("First payment date")).to_have_value(timezone.localdate().isoformat())
    page.get_by_role("button", name="Review the plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the payment plan")
    expect(page.get_by_role("table", name="Payment schedule")).to_contain_text("$100.00")
    check_page(page)
    page.get_by_role("button", name="Set up the plan").click()

    plan = PaymentPlan.objects.get()
    assert (plan.total_cents, plan.instalment_count, plan.saved_card_id) == (300_00, 3, card.pk)
    assert page.url.endswith(f"/billing/plans/{plan.pk}/")
    expect(page.get_by_text("Your payment plan is set up.")).to_be_visible()
    first_row = page.get_by_role("row", name=re.compile("^1 of 3"))
    expect(first_row).to_contain_text("Scheduled")
    check_page(page)
    assert not Payment.objects.exists()  # nothing is charged until the worker runs
    assert queued_tasks.count("portal.billing.tasks.run_billing_sweep") == 1  # for the worker, at once

    # The worker's sweep (cron runs the same command).
    said = io.StringIO()
    call_command("billing_sweep", stdout=said)
    assert "Instalments paid: 1," in said.getvalue()

    page.reload()
    expect(first_row).to_contain_text("Paid")
    expect(first_row.get_by_role("link", name="Receipt for payment 1")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("^2 of 3"))).to_contain_text("Scheduled")
    check_page(page)

    first = Instalment.objects.get(plan=plan, number=1)
    assert first.status == Instalment.Status.PAID
    payment = Payment.objects.get()
    assert first.payment_id == payment.pk
    assert (payment.source, payment.status, payment.amount_cents) == (
        Payment.Source.PLAN,
        Payment.Status.SUCCEEDED,
        100_00,
    )
    assert payment.saved_card_id == card.pk
    assert SandboxCharge.objects.count() == 1
    assert ledger_payments(world) == 1
    assert balance(world) == 200_00

    first_row.get_by_role("link", name="Receipt for payment 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment receipt")
    expect(page.get_by_text("Payment plan instalment")).to_be_visible()
    check_page(page)


# An estimate while booking -------------------------------------------------------------------


def test_booking_shows_the_estimated_cost(page: Page, bw: BillingWorld, log_in: LogIn) -> None:
    world = bw.world
    sw = scheduling_world(world)
    make_slot(sw, local_moment(world.campus, 4, 10))
    visit = PriceItem.objects.create(
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
    visit.visit_types.add(sw.follow_up)
    lab.visit_types.add(sw.follow_up)
    coverage = Coverage.objects.create(
        patient=world.alice,
        priority=Coverage.Priority.PRIMARY,
        payer_name="Acme Health",
        plan_name="PPO",
        member_id="XY123456789",
        subscriber_name="Alice Able",
        status=Coverage.Status.VERIFIED,
        verified_at=timezone.now(),
    )
    # $100 left of the deductible, then 20% of the other $270: Alice pays $154, insurance $216.
    CoverageBenefits.objects.create(
        coverage=coverage, deductible_cents=500_00, deductible_met_cents=400_00, coinsurance_percent=20
    )
    log_in(world.alice_user)

    page.goto("/appointments/book/")
    page.get_by_role("group", name="Family Medicine").get_by_label(re.compile("^Follow-up visit")).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label(re.compile("^Rochester, Minnesota")).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Show open times").click()
    page.get_by_role("link", name=re.compile(r"10:00 AM C[DS]T \(Central time\)")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your appointment")
    summary = page.get_by_role("region", name="Estimated cost")
    expect(summary).to_contain_text("You pay about $154.00; your insurance about $216.00.")
    check_page(page)

    summary.get_by_role("link", name="How we estimated this").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cost estimates")
    result = page.get_by_role("region", name="Your estimate")
    expect(result).to_contain_text("$370.00")
    expect(result).to_contain_text("$154.00")
    expect(result).to_contain_text("You have $100.00 left of your $500.00 deductible.")
    check_page(page)
    result.get_by_role("button", name="Save this estimate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cost estimate")
    check_page(page)

    estimate = Estimate.objects.get()
    assert page.url.endswith(f"/billing/estimates/{estimate.pk}/")
    expect(page.get_by_text(estimate.number).first).to_be_visible()
    assert (estimate.total_cents, estimate.insurance_cents, estimate.patient_cents) == (
        370_00,
        216_00,
        154_00,
    )
    assert estimate.kind == Estimate.Kind.INSURED
    assert estimate.visit_type_id == sw.follow_up.pk
    assert estimate.coverage_id == coverage.pk
    assert not Appointment.objects.filter(patient=world.alice).exists()  # looking is not booking
