"""Every billing page, patient side and billing-office side, with real rows and in its empty
and error states: axe-clean at desktop and 360-px phone width (`check_page` runs both), no
console or CSP errors, no sideways scrolling.

Each test visits every page of one group and reports every page that fails, not only the
first. Skipped on purpose: downloads (statement and receipt PDFs, insurance card photos,
proof of income: files, not pages) and POST-only endpoints as pages of their own (saving an
estimate, removing a card, changing a plan's card); rejecting a coverage and deciding a
dispute are checked through the error pages they answer with.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing import assistance, disputes, estimates, ledger, payments, plans, statements
from portal.billing.models import (
    AssistanceApplication,
    Claim,
    CoverageBenefits,
    Dispute,
    Estimate,
    Payment,
    PaymentPlan,
    PriceItem,
    ServiceLine,
    Statement,
)
from portal.billing.tests.plans_support import make_plan, saved_card
from portal.billing.tests.support import (
    DECLINED,
    NEEDS_CHECK,
    VISA,
    BillingWorld,
    access_for,
    bill,
    billing_world,
    card_token,
    new_key,
)
from portal.browser_tests.conftest import LogIn, Problems, check_page
from portal.lib.uploads import check_document_or_image
from portal.patients.models import Coverage, Patient
from portal.patients.tests.support import sign_in_recently
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.test import World, make_patient

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass
class Rows:
    bw: BillingWorld
    sw: SchedulingWorld
    first_statement: Statement  # disputed, still open
    statement: Statement  # the latest: disputed, declined
    paid: Payment
    declined: Payment
    waiting: Payment  # waiting for the sandbox bank's check
    plan: PaymentPlan  # first instalment paid
    coverage: Coverage  # primary, verified, with benefits
    pending_coverage: Coverage  # secondary, waiting to be verified
    claim: Claim
    insured: Estimate
    good_faith: Estimate
    open_dispute: Dispute
    decided_dispute: Dispute
    application: AssistanceApplication

    @property
    def world(self) -> World:
        return self.bw.world


@pytest.fixture
def clinic(world: World, settings: Any, tmp_path: Path) -> BillingWorld:
    settings.MEDIA_ROOT = tmp_path / "media"
    return billing_world(world)


def pay_as(user: User, patient: Patient, amount_cents: int, number: str = VISA) -> Payment:
    """A payment through the sandbox made by `user` (so the test bank lets them answer it)."""
    return payments.do_pay(
        Actor(user=user),
        access_for(user, patient),
        payments.PaymentRequest(
            amount_cents=amount_cents, idempotency_key=new_key(), token=card_token(number)
        ),
        return_url="http://127.0.0.1/billing/",
    )


def build(bw: BillingWorld) -> Rows:
    world = bw.world
    alice, alice_user = world.alice, world.alice_user
    access = access_for(alice_user, alice)
    today = timezone.localdate()
    sw = scheduling_world(world)

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
    PriceItem.objects.create(
        code="71046", description="Chest X-ray, two views", price_cents=300_00, self_pay_price_cents=150_00
    )
    visit.visit_types.add(sw.follow_up)
    lab.visit_types.add(sw.follow_up)

    coverage = Coverage.objects.create(
        patient=alice,
        priority=Coverage.Priority.PRIMARY,
        payer_name="Acme Health",
        plan_name="PPO",
        member_id="XY123456789",
        group_number="GRP4455",
        subscriber_name="Alice Able",
        status=Coverage.Status.VERIFIED,
        verified_at=timezone.now(),
    )
    CoverageBenefits.objects.create(
        coverage=coverage,
        deductible_cents=1500_00,
        deductible_met_cents=900_00,
        coinsurance_percent=20,
        out_of_pocket_max_cents=4000_00,
        out_of_pocket_met_cents=1200_00,
    )
    pending_coverage = Coverage.objects.create(
        patient=alice,
        priority=Coverage.Priority.SECONDARY,
        payer_name="Second Mutual",
        member_id="SM987654",
        subscriber_name="Alice Able",
    )

    items = estimates.items_of(sw.follow_up)
    actor = Actor(user=alice_user)
    good_faith = estimates.do_save_estimate(
        actor, access, estimates.estimate_for(alice, items, self_pay=True), visit_type=sw.follow_up
    )
    insured = estimates.do_save_estimate(
        actor, access, estimates.estimate_for(alice, items, self_pay=False), visit_type=sw.follow_up
    )

    # Two statements, each billing $640 or more above the $240 Good Faith Estimate.
    first_line = bill(alice, 250_00, insurance_cents=150_00, adjustment_cents=20_00, on=today)
    bill(alice, 700_00, on=today)
    first_statement = statements.issue_statement(ledger.account_for(alice))
    claim = Claim.objects.create(
        account=first_statement.account,
        coverage=coverage,
        number="CLM-2026-0001",
        payer_name="Acme Health",
        service_date=today,
        submitted_on=today,
        decided_on=today,
        status=Claim.Status.PARTIAL,
        billed_cents=250_00,
        paid_cents=150_00,
        adjusted_cents=20_00,
        patient_cents=80_00,
    )
    ServiceLine.objects.filter(pk=first_line.pk).update(claim=claim)
    Claim.objects.create(
        account=first_statement.account,
        coverage=coverage,
        number="CLM-2026-0002",
        payer_name="Acme Health",
        service_date=today,
        submitted_on=today,
        status=Claim.Status.DENIED,
        billed_cents=700_00,
        patient_cents=700_00,
        denial_reason="No referral on file.",
    )
    open_dispute = disputes.do_open_dispute(
        actor, access, first_statement, good_faith, "I was told the visit would cost $240."
    )
    bill(alice, 700_00, code="80053", description="Comprehensive metabolic panel", on=today)
    statement = statements.issue_statement(ledger.account_for(alice))
    decided_dispute = disputes.do_open_dispute(
        actor, access, statement, good_faith, "Far above the estimate."
    )
    disputes.do_decide_dispute(
        Actor(user=bw.clerk),
        access_for(bw.clerk, alice),
        decided_dispute,
        uphold=False,
        decision="The tests were ordered during the visit and are billed at the self-pay price.",
    )

    paid = pay_as(alice_user, alice, 100_00)
    declined = pay_as(alice_user, alice, 50_00, DECLINED)
    waiting = pay_as(alice_user, alice, 25_00, NEEDS_CHECK)
    assert (paid.status, declined.status, waiting.status) == ("succeeded", "declined", "requires_action")
    plan = make_plan(alice_user, alice, 300_00, 3, card=saved_card(alice_user))  # the first is charged today

    proof = check_document_or_image(
        SimpleUploadedFile("payslip.pdf", PDF, content_type="application/pdf"),
        django_settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES,
    )
    application = assistance.do_apply_for_assistance(
        actor,
        access,
        assistance.Answers(
            household_size=3,
            annual_income_cents=32_000_00,
            employment="part_time",
            insured=True,
            reason="I lost my job in March and the bills are large.",
        ),
        proof,
    )
    return Rows(
        bw=bw,
        sw=sw,
        first_statement=first_statement,
        statement=statement,
        paid=paid,
        declined=declined,
        waiting=waiting,
        plan=plan,
        coverage=coverage,
        pending_coverage=pending_coverage,
        claim=claim,
        insured=insured,
        good_faith=good_faith,
        open_dispute=open_dispute,
        decided_dispute=decided_dispute,
        application=application,
    )


@pytest.fixture
def log_in_recently(context: BrowserContext, live_server: Any) -> LogIn:
    """Sign the browser in as if the user had just typed their password (adding a card asks for that)."""

    def log_in_as(user: User) -> None:
        context.clear_cookies()
        client = Client()
        sign_in_recently(client, user)
        session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )

    return log_in_as


# Visiting pages ------------------------------------------------------------------------------


class Visits:
    """Open and check pages, keep every failure, and fail once at the end with all of them."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.failures: list[str] = []
        self.count = 0

    def open(self, path: str, status: int = 200) -> None:
        def go() -> None:
            response = self.page.goto(path)
            assert response is not None and response.status == status, (
                f"{path} answered {response.status if response else 'nothing'}, not {status}"
            )

        self.check(path, go)

    def check(self, name: str, steps: Callable[[], None]) -> None:
        """Run `steps` (which end on the page to check), then check that page."""
        self.count += 1
        try:
            steps()
            expect(self.page.get_by_role("heading", level=1)).to_be_visible()
            check_page(self.page)
        except (AssertionError, PlaywrightError) as failure:
            self.failures.append(f"{name}:\n{failure}")

    def done(self) -> None:
        assert not self.failures, f"{len(self.failures)} of {self.count} pages failed:\n\n" + "\n\n".join(
            self.failures
        )


def visit_each(page: Page, paths: list[str]) -> None:
    visits = Visits(page)
    for path in paths:
        visits.open(path)
    visits.done()


def type_card(page: Page, number: str) -> None:
    page.get_by_role("textbox", name="Card number").press_sequentially(number)
    page.get_by_role("textbox", name="Expiry month").fill("12")
    page.get_by_role("textbox", name="Expiry year").fill(str(timezone.now().year + 2))
    page.get_by_role("textbox", name="Security code").fill("123")


def url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def patient_pages(rows: Rows) -> list[str]:
    """Every billing page Alice (or someone paying her bills) can open with a GET."""
    statement, follow_up = rows.statement, rows.sw.follow_up
    return [
        reverse("home"),  # the billing card
        url("billing:overview"),
        url("billing:statements"),
        url("billing:statement", rows.first_statement.pk),  # disputed, being reviewed
        url("billing:statement", statement.pk),
        url("billing:transactions"),
        url("billing:transactions") + "?kind=payment",
        url("billing:accounts"),
        url("billing:pay"),
        url("billing:pay") + f"?statement={statement.pk}",
        url("billing:payment", rows.paid.pk),
        url("billing:payment", rows.declined.pk),
        url("billing:payment", rows.waiting.pk),
        url("billing:how_to_pay"),
        url("billing:cards"),
        url("billing:plans"),
        url("billing:plan_new"),  # already has a plan
        url("billing:plan", rows.plan.pk),
        url("billing:plan_cancel", rows.plan.pk),
        url("billing:insurance"),
        url("billing:insurance_add"),
        url("billing:insurance_replace", rows.coverage.pk),
        url("billing:claims"),
        url("billing:estimates"),
        url("billing:estimates") + f"?visit_type={follow_up.pk}",
        url("billing:estimates") + f"?visit_type={follow_up.pk}&self_pay=on",
        url("billing:estimates") + "?q=x-ray&find=1",
        url("billing:estimate", rows.insured.pk),
        url("billing:estimate", rows.good_faith.pk),
        url("billing:disputes"),
        url("billing:dispute_new") + f"?statement={statement.pk}",
        url("billing:dispute", rows.open_dispute.pk),
        url("billing:dispute", rows.decided_dispute.pk),
        url("billing:assistance"),  # an application waiting
    ]


# The patient's side ----------------------------------------------------------------------------


def test_every_patient_billing_page_is_accessible(
    page: Page, clinic: BillingWorld, log_in_recently: LogIn
) -> None:
    rows = build(clinic)
    log_in_recently(rows.world.alice_user)
    visits = Visits(page)
    for path in patient_pages(rows):
        visits.open(path)
    visits.open(url("billing:add_card"))

    def confirm_step() -> None:
        page.goto(url("billing:pay"))
        type_card(page, VISA)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your payment")

    visits.check("the pay page's confirm step", confirm_step)

    def plan_review() -> None:
        plans.do_cancel_plan(
            Actor(user=rows.world.alice_user), access_for(rows.world.alice_user, rows.world.alice), rows.plan
        )
        page.goto(url("billing:plan_new"))
        page.get_by_label(re.compile(r"^3 months")).check()
        page.get_by_label(re.compile("4242")).check()
        page.get_by_role("button", name="Review the plan").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check the payment plan")

    visits.check("the payment plan's review step", plan_review)
    visits.open(url("billing:plan", rows.plan.pk))  # cancelled
    visits.open(url("billing:plans"))
    visits.done()


def test_the_sandbox_bank_pages_are_accessible(page: Page, clinic: BillingWorld, log_in: LogIn) -> None:
    world = clinic.world
    bill(world.alice, 100_00)
    waiting = pay_as(world.alice_user, world.alice, 40_00, NEEDS_CHECK)
    log_in(world.alice_user)
    visits = Visits(page)
    visits.open(waiting.next_action_url)
    visits.check("the test bank's answer", lambda: page.get_by_role("button", name="Fail the check").click())
    waiting.refresh_from_db()
    assert waiting.status == Payment.Status.DECLINED
    visits.open(reverse("sandbox_gateway:authenticate", args=[waiting.gateway_ref]))  # already answered
    visits.done()


def test_the_billing_proxys_pages_are_accessible(page: Page, clinic: BillingWorld, log_in: LogIn) -> None:
    rows = build(clinic)
    log_in(clinic.payer)  # greta: the billing scope for Alice, and nothing else
    visit_each(
        page,
        [
            url("billing:overview"),
            url("billing:statements"),
            url("billing:statement", rows.statement.pk),
            url("billing:transactions"),
            url("billing:accounts"),
            url("billing:pay"),
            url("billing:payment", rows.paid.pk),
            url("billing:cards"),  # none of her own
            url("billing:plans"),
            url("billing:plan", rows.plan.pk),  # set up by Alice: no card to change
            url("billing:insurance"),
            url("billing:claims"),
            url("billing:estimates"),
            url("billing:estimate", rows.good_faith.pk),
            url("billing:disputes"),
            url("billing:assistance"),
        ],
    )


def test_the_empty_billing_pages_are_accessible(page: Page, clinic: BillingWorld, log_in: LogIn) -> None:
    PriceItem.objects.create(
        code="99213", description="Office visit", price_cents=250_00, self_pay_price_cents=180_00
    )
    log_in(clinic.world.bob_user)  # never billed
    visit_each(
        page,
        [
            url("billing:overview"),
            url("billing:statements"),
            url("billing:transactions"),
            url("billing:accounts"),
            url("billing:pay"),
            url("billing:how_to_pay"),
            url("billing:cards"),
            url("billing:plans"),
            url("billing:plan_new"),  # nothing owed
            url("billing:insurance"),
            url("billing:claims"),
            url("billing:estimates"),  # no appointment types priced
            url("billing:disputes"),
            url("billing:assistance"),
        ],
    )


def test_the_estimates_page_with_an_upcoming_appointment_fits_a_phone(
    page: Page, clinic: BillingWorld, log_in: LogIn
) -> None:
    rows = build(clinic)
    book(rows.sw, make_slot(rows.sw, local_moment(rows.world.campus, 6, 9)), patient=rows.world.alice)
    log_in(rows.world.alice_user)
    visit_each(
        page,
        [
            url("billing:estimates"),
            url("billing:estimates") + f"?visit_type={rows.sw.follow_up.pk}",
        ],
    )


# Form errors -----------------------------------------------------------------------------------


def test_billing_form_errors_are_accessible(
    page: Page, clinic: BillingWorld, log_in_recently: LogIn, problems: Problems
) -> None:
    rows = build(clinic)
    world = rows.world
    log_in_recently(world.alice_user)
    visits = Visits(page)

    def amount_error() -> None:
        page.goto(url("billing:pay"))
        page.get_by_label("Another amount", exact=True).check()
        page.get_by_role("textbox", name=re.compile("^Another amount")).fill("12.345")
        type_card(page, VISA)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_text("Enter an amount in dollars and cents").first).to_be_visible()

    visits.check("pay: an amount with three decimals", amount_error)

    def mistyped_card() -> None:
        page.goto(url("billing:pay"))
        type_card(page, "4242 4242 4242 4241")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("alert").filter(has_text="The card number is not valid")).to_be_visible()
        # The tokens endpoint answers the mistyped card with a 400, which Chromium logs.
        logged = problems.take()
        assert logged and all("Failed to load resource" in line and "tokens" in line for line in logged), (
            logged
        )

    visits.check("pay: a mistyped card number", mistyped_card)

    def missing_card() -> None:
        page.goto(url("billing:add_card"))
        page.get_by_role("button", name="Save the card").click()
        expect(page.get_by_role("alert").filter(has_text="Enter the card number")).to_be_visible()

    visits.check("add a card: nothing typed", missing_card)

    def plan_error() -> None:
        plans.do_cancel_plan(
            Actor(user=world.alice_user), access_for(world.alice_user, world.alice), rows.plan
        )
        page.goto(url("billing:plan_new"))
        page.get_by_role("textbox", name="Amount to pay over time").fill("5")
        page.get_by_role("button", name="Review the plan").click()
        expect(page.get_by_text("Choose one of the options.").first).to_be_visible()

    visits.check("payment plan: nothing chosen", plan_error)

    def insurance_error() -> None:
        page.goto(url("billing:insurance_add"))
        page.get_by_role("button", name="Save insurance").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Add insurance")
        expect(page.locator(".error-message").first).to_be_visible()

    visits.check("add insurance: nothing filled in", insurance_error)

    def dispute_error() -> None:
        page.goto(url("billing:dispute_new") + f"?statement={rows.statement.pk}")
        page.get_by_role("button", name="Send the dispute").click()
        expect(page.locator(".error-message").first).to_be_visible()

    visits.check("dispute: nothing filled in", dispute_error)
    visits.open(url("billing:transactions") + "?start=2026-05-01&end=2026-04-01")
    visits.open(url("billing:transactions") + "?kind=nonsense&start=not-a-date")
    visits.open(url("billing:estimates") + "?visit_type=987654321&services=abc", status=400)
    visits.done()


def test_the_financial_assistance_form_errors_are_accessible(
    page: Page, clinic: BillingWorld, log_in: LogIn
) -> None:
    log_in(clinic.world.bob_user)
    visits = Visits(page)

    def empty_application() -> None:
        page.goto(url("billing:assistance"))
        page.get_by_role("button", name="Send application").click()
        expect(page.locator(".error-message").first).to_be_visible()

    visits.check("financial assistance: nothing filled in", empty_application)
    visits.done()
    assert not AssistanceApplication.objects.exists()


# The billing office --------------------------------------------------------------------------


def test_every_billing_office_page_is_accessible(page: Page, clinic: BillingWorld, log_in: LogIn) -> None:
    rows = build(clinic)
    world = rows.world
    bill(world.bob, 300_00)  # owes enough for a plan, and has none
    never_billed = make_patient("10000099", "Nina", "Newcomer", world.campus).pk
    alice = world.alice.pk
    log_in(clinic.clerk)
    visit_each(
        page,
        [
            reverse("staff:home"),
            url("staff_billing:home"),
            url("staff_billing:home") + "?q=Able",
            url("staff_billing:home") + "?q=nobody-is-called-this",
            url("staff_billing:account", alice),
            url("staff_billing:account", world.bob.pk),
            # No account yet ("None yet"), on the page and in a form page's header.
            url("staff_billing:account", never_billed),
            url("staff_billing:charge", never_billed),
            url("staff_billing:guarantor", alice),
            url("staff_billing:charge", alice),
            url("staff_billing:adjustment", alice),
            url("staff_billing:statement_new", alice),
            url("staff_billing:claim_new", alice),
            url("staff_billing:coverage", alice, rows.pending_coverage.pk),
            url("staff_billing:coverage", alice, rows.coverage.pk),
            url("staff_billing:refund", rows.paid.pk),
            url("staff_billing:disputes"),
            url("staff_billing:disputes") + "?show=decided",
            url("staff_billing:dispute", rows.open_dispute.pk),
            url("staff_billing:dispute", rows.decided_dispute.pk),
            url("staff_billing:assistance"),
            url("staff_billing:assistance_detail", rows.application.pk),
            url("staff_billing:plan_new", alice),  # already has a plan
            url("staff_billing:plan_new", world.bob.pk),
            url("staff_billing:plan", rows.plan.pk),
            url("staff_billing:plan_cancel", rows.plan.pk),
        ],
    )


def test_billing_office_form_errors_are_accessible(page: Page, clinic: BillingWorld, log_in: LogIn) -> None:
    rows = build(clinic)
    alice = rows.world.alice.pk
    log_in(clinic.clerk)
    visits = Visits(page)

    def submit(path: str, button: str, typed: dict[str, str] | None = None) -> Callable[[], None]:
        def steps() -> None:
            page.goto(path)
            for label, text in (typed or {}).items():
                page.get_by_role("textbox", name=re.compile(f"^{label}")).fill(text)
            with page.expect_response(lambda response: response.request.method == "POST") as answer:
                page.get_by_role("button", name=button).first.click()
            assert answer.value.status == 400, f"{path}: {button} answered {answer.value.status}"
            expect(page.locator(".error-message, [role=alert]").first).to_be_visible()

        return steps

    coverage = url("staff_billing:coverage", alice, rows.pending_coverage.pk)
    for path, button, typed in (
        (url("staff_billing:charge", alice), "Post the charge", None),
        (url("staff_billing:adjustment", alice), "Post the adjustment", None),
        (url("staff_billing:refund", rows.paid.pk), "Refund to the card", None),
        (url("staff_billing:claim_new", alice), "Record the claim", None),
        (coverage, "Mark as verified", {"Deductible$": "lots"}),
        (coverage, "Mark as not verified", None),
        (url("staff_billing:dispute", rows.open_dispute.pk), "Record the decision", None),
        (url("staff_billing:assistance_detail", rows.application.pk), "Record the decision", None),
        (
            url("staff_billing:guarantor", alice),
            "Save the guarantor",
            {"Guarantor.s clinic number": "99999999"},
        ),
    ):
        visits.check(f"{path} ({button}), not filled in right", submit(path, button, typed))

    def plan_error() -> None:
        plans.do_cancel_plan(Actor(user=clinic.clerk), access_for(clinic.clerk, rows.world.alice), rows.plan)
        submit(url("staff_billing:plan_new", alice), "Review the plan")()

    visits.check("staff payment plan with nothing chosen", plan_error)

    def nothing_new() -> None:
        page.goto(url("staff_billing:statement_new", alice))
        page.get_by_role("button", name="Issue the statement").click()  # the payments since the last one
        expect(page.get_by_role("heading", level=1)).to_have_text("Billing: Alice Able")
        submit(url("staff_billing:statement_new", alice), "Issue the statement")()

    visits.check("issue a statement with nothing new since the last", nothing_new)
    visits.done()
    assert Statement.objects.filter(account__patient=rows.world.alice).count() == 3
    rows.pending_coverage.refresh_from_db()
    assert rows.pending_coverage.status == Coverage.Status.PENDING
    assert not Dispute.objects.exclude(pk=rows.open_dispute.pk).filter(status=Dispute.Status.OPEN).exists()
