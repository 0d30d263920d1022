"""Disputing a bill against a Good Faith Estimate: the $400 threshold, one open dispute per
statement, the billing office's queue and decisions (the adjustment lowers the balance), every
persona, bad input and bounded queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.billing import disputes, ledger, statements
from portal.billing.models import Dispute, Estimate, LedgerEntry, Statement
from portal.billing.tests.support import assert_balanced, balance, bill
from portal.billing.tests.test_estimates_pages import Clinic, client_for, insure, make_clinic, saved_estimate
from portal.notifications.models import Notification
from portal.organization.models import Practitioner
from portal.patients.models import ProxyGrant, Scope
from portal.test import World, assert_same_as_missing, make_staff, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321
GFE_TOTAL = 240_00  # the follow-up visit at self-pay prices: $180 + $60


@pytest.fixture
def clinic(world: World) -> Clinic:
    return make_clinic(world)


def billed_statement(clinic: Clinic, charge_cents: int, code: str = "99213") -> Statement:
    """A statement billing Alice `charge_cents` for one of the estimate's services, today."""
    bill(clinic.world.alice, charge_cents, code=code, on=timezone.localdate())
    return statements.issue_statement(ledger.account_for(clinic.world.alice))


def new_url(statement: Any) -> str:
    return (
        reverse("billing:dispute_new")
        + f"?statement={statement.pk if hasattr(statement, 'pk') else statement}"
    )


def open_one(clinic: Clinic, statement: Statement, estimate: Estimate, client: Client | None = None) -> Any:
    client = client or client_for(clinic.world.alice_user)
    return client.post(
        new_url(statement), {"estimate": estimate.pk, "reason": "I was told it would be $240."}
    )


def disputed(clinic: Clinic) -> Dispute:
    estimate = saved_estimate(clinic)
    statement = billed_statement(clinic, GFE_TOTAL + 500_00)
    assert open_one(clinic, statement, estimate).status_code == 302
    return Dispute.objects.get()


# The threshold ---------------------------------------------------------------------------------


def test_a_bill_400_dollars_above_the_estimate_can_be_disputed(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    statement = billed_statement(clinic, GFE_TOTAL + 400_00)
    assert disputes.disputable_estimates(statement) == [estimate]
    client = client_for(clinic.world.alice_user)
    page = client.get(new_url(statement))
    assert page.status_code == 200
    text = page.content.decode()
    assert f"{estimate.number}: billed $640.00, estimated $240.00, $400.00 more" in text
    response = open_one(clinic, statement, estimate)
    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:dispute", args=[dispute.pk])
    assert (dispute.statement, dispute.estimate, dispute.status) == (statement, estimate, Dispute.Status.OPEN)
    assert (dispute.billed_cents, dispute.estimated_cents) == (640_00, 240_00)
    assert dispute.created_by == clinic.world.alice_user
    event = AuditEvent.objects.get(action="billing.dispute_open")
    assert event.patient_id == clinic.world.alice.pk
    told = Notification.objects.get(recipient=clinic.bw.clerk)
    assert told.for_staff
    assert told.link == reverse("staff_billing:dispute", args=[dispute.pk])
    detail = client.get(reverse("billing:dispute", args=[dispute.pk])).content.decode()
    assert "Being reviewed" in detail
    assert "$400.00" in detail


def test_a_bill_399_99_above_the_estimate_is_refused_with_a_clear_message(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    statement = billed_statement(clinic, GFE_TOTAL + 399_99)
    assert disputes.disputable_estimates(statement) == []
    client = client_for(clinic.world.alice_user)
    page = client.get(new_url(statement)).content.decode()
    assert "This bill is less than $400.00 above your Good Faith Estimates, so it cannot be disputed." in page
    assert "Send the dispute" not in page
    response = open_one(clinic, statement, estimate)
    assert response.status_code == 400
    assert (
        f"This bill is $399.99 above your Good Faith Estimate {estimate.number}. "
        "A bill can be disputed when it is $400.00 or more above the estimate."
    ) in response.content.decode()
    assert not Dispute.objects.exists()


def test_the_threshold_follows_the_setting(clinic: Clinic, settings: Any) -> None:
    settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS = 100_00
    estimate = saved_estimate(clinic)
    statement = billed_statement(clinic, GFE_TOTAL + 100_00)
    assert disputes.disputable_estimates(statement) == [estimate]


def test_services_not_on_the_estimate_do_not_count(clinic: Clinic) -> None:
    saved_estimate(clinic)
    statement = billed_statement(clinic, 5000_00, code="71046")
    assert disputes.disputable_estimates(statement) == []
    page = client_for(clinic.world.alice_user).get(new_url(statement)).content.decode()
    assert "nothing to compare it with" in page


def test_an_insured_estimate_is_no_basis_for_a_dispute(clinic: Clinic) -> None:
    insure(clinic.world, copay_cents=30_00)
    insured = saved_estimate(clinic, self_pay=False)
    statement = billed_statement(clinic, 5000_00)
    response = open_one(clinic, statement, insured)
    assert response.status_code == 400
    assert not Dispute.objects.exists()


def test_one_open_dispute_per_statement(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    statement = billed_statement(clinic, GFE_TOTAL + 500_00)
    assert open_one(clinic, statement, estimate).status_code == 302
    again = open_one(clinic, statement, estimate)
    assert again.status_code == 400
    assert "This bill already has a dispute being reviewed." in again.content.decode()
    assert Dispute.objects.count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"reason": "Too much"},
        {"estimate": "abc", "reason": "Too much"},
        {"estimate": str(MISSING), "reason": "Too much"},
        {"estimate": "ESTIMATE", "reason": ""},
        {"estimate": "ESTIMATE", "reason": "   "},
        {"estimate": "ESTIMATE", "reason": "x" * 4001},
    ],
)
def test_bad_input_changes_nothing(clinic: Clinic, data: dict[str, Any]) -> None:
    estimate = saved_estimate(clinic)
    statement = billed_statement(clinic, GFE_TOTAL + 500_00)
    data = {key: str(estimate.pk) if value == "ESTIMATE" else value for key, value in data.items()}
    response = client_for(clinic.world.alice_user).post(new_url(statement), data)
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert not Dispute.objects.exists()


@pytest.mark.parametrize("statement", ["", "abc", "-1", str(MISSING), "9" * 40])
def test_a_bad_statement_is_missing(clinic: Clinic, statement: str) -> None:
    client = client_for(clinic.world.alice_user)
    assert client.get(reverse("billing:dispute_new") + f"?statement={statement}").status_code == 404


# Who may ---------------------------------------------------------------------------------------


def test_greta_a_billing_proxy_may_dispute(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic, user=clinic.bw.payer)
    statement = billed_statement(clinic, GFE_TOTAL + 500_00)
    client = client_for(clinic.bw.payer)
    assert open_one(clinic, statement, estimate, client).status_code == 302
    dispute = Dispute.objects.get()
    assert dispute.created_by == clinic.bw.payer
    assert client.get(reverse("billing:disputes")).status_code == 200
    assert client.get(reverse("billing:dispute", args=[dispute.pk])).status_code == 200


@pytest.mark.parametrize("who", ["proxy", "other_patient"])
def test_everyone_else_on_the_patient_side_gets_the_missing_page(clinic: Clinic, who: str) -> None:
    dispute = disputed(clinic)
    statement = dispute.statement
    client = client_for(clinic.world.persona(who))
    assert_same_as_missing(client.get(new_url(statement)), client.get(new_url(MISSING)))
    assert_same_as_missing(
        client.post(new_url(statement), {"estimate": dispute.estimate_id, "reason": "x"}),
        client.get(new_url(MISSING)),
    )
    missing = client.get(reverse("billing:dispute", args=[MISSING]))
    assert_same_as_missing(client.get(reverse("billing:dispute", args=[dispute.pk])), missing)
    assert Dispute.objects.count() == 1


def test_pat_is_told_the_disputes_list_is_not_shared(clinic: Clinic) -> None:
    assert client_for(clinic.world.proxy_user).get(reverse("billing:disputes")).status_code == 403


def test_bob_sees_only_his_own_disputes(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    page = client_for(clinic.world.bob_user).get(reverse("billing:disputes")).content.decode()
    assert dispute.statement.number not in page
    assert "You have not disputed a bill." in page


@pytest.mark.parametrize("who", ["clerk", "clinician", "unassigned_staff", "admin"])
def test_staff_get_nothing_on_the_patient_dispute_pages(clinic: Clinic, who: str) -> None:
    dispute = disputed(clinic)
    user = clinic.bw.clerk if who == "clerk" else clinic.world.persona(who)
    client = client_for(user)
    for url in (
        reverse("billing:disputes"),
        new_url(dispute.statement),
        reverse("billing:dispute", args=[dispute.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("staff:home")


def test_anonymous_visitors_are_sent_to_sign_in(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    for url in (
        reverse("billing:disputes"),
        new_url(dispute.statement),
        reverse("billing:dispute", args=[dispute.pk]),
        reverse("staff_billing:disputes"),
        reverse("staff_billing:dispute", args=[dispute.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]


# The billing office ----------------------------------------------------------------------------


def test_the_clerk_sees_the_open_dispute_in_the_queue(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    client = client_for(clinic.bw.clerk)
    response = client.get(reverse("staff_billing:disputes"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Alice Able" in page
    assert dispute.statement.number in page
    assert reverse("staff_billing:dispute", args=[dispute.pk]) in page
    assert (
        "No disputes decided yet."
        in client.get(reverse("staff_billing:disputes") + "?show=decided").content.decode()
    )


def test_the_dispute_page_shows_the_bill_beside_the_estimate(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    response = client_for(clinic.bw.clerk).get(reverse("staff_billing:dispute", args=[dispute.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in (
        f"Statement {dispute.statement.number}",
        f"Good Faith Estimate {dispute.estimate.number}",
        "$740.00",  # billed
        "$240.00",  # estimated
        "I was told it would be $240.",
        "Record the decision",
    ):
        assert shown in page
    assert "billing.dispute_staff_view" in AuditEvent.objects.values_list("action", flat=True)


@pytest.mark.parametrize(
    "who", ["clinician", "unassigned_staff", "admin", "patient", "proxy", "other_patient"]
)
def test_the_staff_dispute_pages_are_missing_for_everyone_else(clinic: Clinic, who: str) -> None:
    dispute = disputed(clinic)
    client = client_for(clinic.world.persona(who))
    assert client.get(reverse("staff_billing:disputes")).status_code == 404
    assert client.get(reverse("staff_billing:dispute", args=[dispute.pk])).status_code == 404
    response = client.post(
        reverse("staff_billing:dispute_decide", args=[dispute.pk]), {"outcome": "uphold", "amount": "100.00"}
    )
    assert response.status_code == 404
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN


def test_a_clerk_never_works_their_familys_dispute(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    relative = make_staff("bea", Practitioner.Role.BILLING, clinic.bw.billing_office)
    ProxyGrant.objects.create(
        grantee=relative,
        patient=clinic.world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    client = client_for(relative)
    assert "Alice Able" not in client.get(reverse("staff_billing:disputes")).content.decode()
    missing = client.get(reverse("staff_billing:dispute", args=[MISSING]))
    assert_same_as_missing(client.get(reverse("staff_billing:dispute", args=[dispute.pk])), missing)
    # Nor were they told about it.
    assert not Notification.objects.filter(recipient=relative).exists()


def test_upholding_posts_the_adjustment_and_the_balance_drops(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    before = balance(clinic.world.alice)
    response = client_for(clinic.bw.clerk).post(
        reverse("staff_billing:dispute_decide", args=[dispute.pk]),
        {"outcome": "uphold", "amount": "500.00", "decision": "The extra services were not explained."},
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.adjusted_cents, dispute.decided_by) == (
        Dispute.Status.UPHELD,
        500_00,
        clinic.bw.clerk,
    )
    assert balance(clinic.world.alice) == before - 500_00
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.ADJUSTMENT, payer=LedgerEntry.Payer.CLINIC)
    assert (entry.amount_cents, entry.posted_by) == (500_00, clinic.bw.clerk)
    assert entry.reason == "The extra services were not explained."
    assert_balanced(ledger.account_for(clinic.world.alice))
    told = Notification.objects.get(recipient=clinic.world.alice_user, title="Your bill was lowered")
    assert told.link == reverse("billing:dispute", args=[dispute.pk])
    assert "$500.00" in told.body
    assert Notification.objects.filter(recipient=clinic.bw.payer, title="Your bill was lowered").exists()
    assert not Notification.objects.filter(recipient=clinic.world.proxy_user).exists()
    assert AuditEvent.objects.filter(
        action="billing.dispute_decide", patient_id=clinic.world.alice.pk
    ).exists()
    page = (
        client_for(clinic.world.alice_user)
        .get(reverse("billing:dispute", args=[dispute.pk]))
        .content.decode()
    )
    assert "Bill lowered" in page
    assert "The extra services were not explained." in page


def test_a_decided_dispute_is_not_decided_again(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    client = client_for(clinic.bw.clerk)
    url = reverse("staff_billing:dispute_decide", args=[dispute.pk])
    client.post(url, {"outcome": "uphold", "amount": "500.00"})
    again = client.post(url, {"outcome": "uphold", "amount": "500.00"})
    assert again.status_code == 409
    assert "This dispute was already decided." in again.content.decode()
    assert (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT, payer=LedgerEntry.Payer.CLINIC).count()
        == 1
    )


def test_declining_needs_a_written_decision_and_leaves_the_balance(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    before = balance(clinic.world.alice)
    client = client_for(clinic.bw.clerk)
    url = reverse("staff_billing:dispute_decide", args=[dispute.pk])
    unwritten = client.post(url, {"outcome": "decline", "decision": "  "})
    assert unwritten.status_code == 400
    assert "Write why the bill stands" in unwritten.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN
    assert (
        client.post(
            url, {"outcome": "decline", "decision": "The services were all on the estimate."}
        ).status_code
        == 302
    )
    dispute.refresh_from_db()
    assert (dispute.status, dispute.adjusted_cents) == (Dispute.Status.DECLINED, 0)
    assert dispute.decision == "The services were all on the estimate."
    assert balance(clinic.world.alice) == before
    assert not LedgerEntry.objects.filter(payer=LedgerEntry.Payer.CLINIC).exists()
    assert Notification.objects.filter(
        recipient=clinic.world.alice_user, title="Your dispute was decided"
    ).exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"outcome": "maybe"},
        {"outcome": "uphold"},
        {"outcome": "uphold", "amount": "abc"},
        {"outcome": "uphold", "amount": "-5.00"},
        {"outcome": "uphold", "amount": "0"},
        {"outcome": "uphold", "amount": "1.999"},
        {"outcome": "uphold", "amount": "740.01"},  # more than was billed
        {"outcome": "uphold", "amount": "99999999999999"},
        {"outcome": "decline", "decision": "x" * 4001},
    ],
)
def test_bad_decisions_change_nothing(clinic: Clinic, data: dict[str, Any]) -> None:
    dispute = disputed(clinic)
    before = balance(clinic.world.alice)
    response = client_for(clinic.bw.clerk).post(
        reverse("staff_billing:dispute_decide", args=[dispute.pk]), data
    )
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN
    assert balance(clinic.world.alice) == before


def test_the_decide_page_takes_only_post(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    response = client_for(clinic.bw.clerk).get(reverse("staff_billing:dispute_decide", args=[dispute.pk]))
    assert response.status_code == 405


# Bounded queries -------------------------------------------------------------------------------


def test_the_dispute_lists_run_the_same_queries_however_many_there_are(clinic: Clinic) -> None:
    estimate = saved_estimate(clinic)
    patient_client = client_for(clinic.world.alice_user)
    staff_client = client_for(clinic.bw.clerk)

    def add_disputes(count: int) -> None:
        for _ in range(count):
            statement = billed_statement(clinic, GFE_TOTAL + 500_00)
            assert open_one(clinic, statement, estimate, patient_client).status_code == 302

    add_disputes(1)
    patient_client.get(reverse("billing:disputes"))
    staff_client.get(reverse("staff_billing:disputes"))
    few = (
        query_count(lambda: patient_client.get(reverse("billing:disputes"))),
        query_count(lambda: staff_client.get(reverse("staff_billing:disputes"))),
    )
    add_disputes(8)
    many = (
        query_count(lambda: patient_client.get(reverse("billing:disputes"))),
        query_count(lambda: staff_client.get(reverse("staff_billing:disputes"))),
    )
    assert few == many
    assert Dispute.objects.count() == 9


def test_the_new_dispute_page_runs_the_same_queries_however_many_estimates(clinic: Clinic) -> None:
    saved_estimate(clinic)
    statement = billed_statement(clinic, GFE_TOTAL + 500_00)
    client = client_for(clinic.world.alice_user)
    client.get(new_url(statement))
    few = query_count(lambda: client.get(new_url(statement)))
    for _ in range(6):
        saved_estimate(clinic)
    assert query_count(lambda: client.get(new_url(statement))) == few


def test_the_statement_page_offers_a_dispute_only_at_the_threshold(clinic: Clinic) -> None:
    saved_estimate(clinic)
    over = billed_statement(clinic, GFE_TOTAL + 400_00)
    client = client_for(clinic.world.alice_user)
    page = client.get(reverse("billing:statement", args=[over.pk])).content.decode()
    assert "Dispute this bill" in page
    assert new_url(over).replace("&", "&amp;") in page or new_url(over) in page


def test_the_statement_page_offers_no_dispute_below_the_threshold(clinic: Clinic) -> None:
    saved_estimate(clinic)
    under = billed_statement(clinic, GFE_TOTAL + 399_99)
    page = client_for(clinic.world.alice_user).get(reverse("billing:statement", args=[under.pk]))
    assert "Dispute this bill" not in page.content.decode()


def test_a_decided_bill_cannot_be_disputed_again(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    clerk = client_for(clinic.bw.clerk)
    decide = reverse("staff_billing:dispute_decide", args=[dispute.pk])
    assert (
        clerk.post(decide, {"outcome": "uphold", "amount": "500.00", "decision": "Fair."}).status_code == 302
    )
    before = balance(clinic.world.alice)
    assert disputes.disputable_estimates(dispute.statement) == []
    again = open_one(clinic, dispute.statement, dispute.estimate)
    assert again.status_code == 400
    assert "already reviewed" in again.content.decode()
    assert Dispute.objects.count() == 1 and balance(clinic.world.alice) == before


def test_the_adjustment_is_at_most_what_was_billed_above_the_estimate(clinic: Clinic) -> None:
    dispute = disputed(clinic)
    response = client_for(clinic.bw.clerk).post(
        reverse("staff_billing:dispute_decide", args=[dispute.pk]),
        {"outcome": "uphold", "amount": "500.01", "decision": "Too much."},
    )
    assert response.status_code == 400
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN
    assert not LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.ADJUSTMENT, payer=LedgerEntry.Payer.CLINIC
    ).exists()
