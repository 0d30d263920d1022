"""Financial assistance: the patient's application (validated, one open at a time, proof
checked by content), the billing office's queue and decision (a clinic adjustment of the
approved share), notices both ways, and everyone who may not."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing import assistance, ledger
from portal.billing.models import AssistanceApplication, LedgerEntry
from portal.billing.tests.support import (
    BillingWorld,
    access_for,
    assert_balanced,
    balance,
    bill,
    billing_world,
)
from portal.notifications.models import Notification
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.scheduling.tests.test_coverage import jpeg_with_exif
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PAGE = reverse("billing:assistance")
QUEUE = reverse("staff_billing:assistance")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def application_post(**overrides: Any) -> dict[str, Any]:
    return {
        "household_size": "3",
        "annual_income": "32,000",
        "employment": "part_time",
        "insured": "no",
        "reason": "I lost my job in March and the surgery bill is large.",
        **overrides,
    }


def apply(patient: Patient, user: User, **answers: Any) -> AssistanceApplication:
    values = {
        "household_size": 2,
        "annual_income_cents": 28_000_00,
        "employment": "unemployed",
        "insured": False,
        "reason": "Hard times.",
        **answers,
    }
    return assistance.do_apply_for_assistance(
        Actor(user=user), access_for(user, patient), assistance.Answers(**values)
    )


def media_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def detail_url(application_id: int) -> str:
    return reverse("staff_billing:assistance_detail", args=[application_id])


def document_url(application_id: int) -> str:
    return reverse("staff_billing:assistance_document", args=[application_id])


# The patient's side --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "billing_proxy"])
def test_applying_stores_the_answers_and_tells_the_billing_office(bw: BillingWorld, who: str) -> None:
    user = bw.world.alice_user if who == "patient" else bw.payer
    client = client_for(user)
    page = client.get(PAGE)
    assert page.status_code == 200 and "Send application" in page.content.decode()
    response = client.post(
        PAGE,
        application_post(document=SimpleUploadedFile("payslip.pdf", PDF, content_type="application/pdf")),
    )
    assert response.status_code == 302 and response["Location"] == PAGE
    application = AssistanceApplication.objects.get()
    assert application.account.patient == bw.world.alice and application.created_by == user
    assert (application.household_size, application.annual_income_cents) == (3, 32_000_00)
    assert application.employment == "part_time" and application.insured is False
    assert application.status == AssistanceApplication.Status.SUBMITTED
    assert application.document_type == "application/pdf"
    assert re.fullmatch(r"billing/assistance/[0-9a-f]{32}\.pdf", application.document.name)
    event = AuditEvent.objects.get(action="billing.assistance_apply")
    assert event.actor_id == user.pk and event.patient_id == bw.world.alice.pk
    notice = Notification.objects.get(recipient=bw.clerk)
    assert notice.for_staff and notice.link == detail_url(application.pk)
    # Shown with its status; no second form while it waits.
    html = client.get(PAGE).content.decode()
    assert "Submitted" in html and "$32,000.00" in html and "Employed part time" in html
    assert "Send application" not in html


def test_an_image_proof_is_re_encoded(bw: BillingWorld) -> None:
    proof = SimpleUploadedFile("slip.jpg", jpeg_with_exif(), content_type="image/jpeg")
    client_for(bw.world.alice_user).post(PAGE, application_post(document=proof))
    application = AssistanceApplication.objects.get()
    assert application.document_type == "image/jpeg"
    with application.document.open("rb") as stored:
        assert b"SpyCam" not in stored.read()


def test_one_open_application_at_a_time(bw: BillingWorld) -> None:
    apply(bw.world.alice, bw.world.alice_user)
    client = client_for(bw.payer)
    response = client.post(PAGE, application_post())
    assert response.status_code == 302
    assert AssistanceApplication.objects.count() == 1
    with pytest.raises(assistance.AssistanceRefused):
        apply(bw.world.alice, bw.world.alice_user)
    assert AssistanceApplication.objects.count() == 1


def test_a_new_application_once_the_last_is_decided(bw: BillingWorld) -> None:
    first = apply(bw.world.alice, bw.world.alice_user)
    assistance.do_deny_assistance(
        Actor(user=bw.clerk), access_for(bw.clerk, bw.world.alice), first, "Income too high."
    )
    client = client_for(bw.world.alice_user)
    html = client.get(PAGE).content.decode()
    assert "Not approved" in html and "Income too high." in html and "Send application" in html
    assert client.post(PAGE, application_post()).status_code == 302
    assert AssistanceApplication.objects.count() == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"annual_income": "-5000"}, "in dollars"),
        ({"annual_income": "12.345"}, "in dollars"),
        ({"annual_income": "lots"}, "in dollars"),
        ({"annual_income": "99999999999"}, "in dollars"),
        ({"household_size": "0"}, "greater than or equal to 1"),
        ({"household_size": "21"}, "less than or equal to 20"),
        ({"household_size": "many"}, "whole number"),
        ({"employment": "astronaut"}, "valid choice"),
        ({"insured": "maybe"}, "valid choice"),
        ({"reason": "x" * 5000}, "at most 4000"),
        ({"reason": "   "}, "required"),
        (
            {"document": SimpleUploadedFile("a.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
            "PDF, JPEG or PNG",
        ),
        (
            {
                "document": SimpleUploadedFile(
                    "a.pdf", b"%PDF-1.4 /JavaScript (x)\n%%EOF\n", "application/pdf"
                )
            },
            "scripts",
        ),
    ],
)
def test_bad_answers_are_a_clear_error_and_store_nothing(
    bw: BillingWorld, _media_in_tmp: Path, overrides: dict[str, Any], message: str
) -> None:
    response = client_for(bw.world.alice_user).post(PAGE, application_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AssistanceApplication.objects.exists()
    assert media_files(_media_in_tmp) == []
    assert not Notification.objects.exists()


def test_an_oversized_proof_is_refused(bw: BillingWorld, settings: Any, _media_in_tmp: Path) -> None:
    settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES = 50
    response = client_for(bw.world.alice_user).post(
        PAGE, application_post(document=SimpleUploadedFile("p.pdf", PDF, content_type="application/pdf"))
    )
    assert response.status_code == 400 and "too large" in response.content.decode()
    assert not AssistanceApplication.objects.exists() and media_files(_media_in_tmp) == []


def test_who_may_not_use_the_patient_page(bw: BillingWorld) -> None:
    apply(bw.world.alice, bw.world.alice_user, reason="Alice's private reason")
    not_shared = client_for(bw.world.proxy_user).get(PAGE)
    assert not_shared.status_code == 403 and "not shared with you" in not_shared.content.decode()
    assert client_for(bw.world.proxy_user).post(PAGE, application_post()).status_code == 403
    bob = client_for(bw.world.bob_user).get(PAGE).content.decode()
    assert "Alice's private reason" not in bob and "Send application" in bob
    for user in (bw.clerk, bw.world.clinician, bw.world.unassigned_staff, bw.world.admin):
        response = client_for(user).get(PAGE)
        assert response.status_code == 302 and response["Location"] == reverse("staff:home")
    anonymous = client_for(None).get(PAGE)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert AssistanceApplication.objects.count() == 1


# The billing office -----------------------------------------------------------------------------


def test_the_queue_lists_open_applications_for_billing_staff(bw: BillingWorld) -> None:
    waiting = apply(bw.world.alice, bw.world.alice_user)
    decided = apply(bw.world.bob, bw.world.bob_user)
    assistance.do_deny_assistance(Actor(user=bw.clerk), access_for(bw.clerk, bw.world.bob), decided, "No.")
    response = client_for(bw.clerk).get(QUEUE)
    assert response.status_code == 200
    html = response.content.decode()
    assert detail_url(waiting.pk) in html and detail_url(decided.pk) not in html
    assert "Alice Able" in html and "$28,000.00" in html


def test_the_queue_runs_the_same_queries_however_many_wait(bw: BillingWorld) -> None:
    client = client_for(bw.clerk)
    apply(bw.world.alice, bw.world.alice_user)
    client.get(QUEUE)
    small = query_count(lambda: client.get(QUEUE))
    apply(bw.world.bob, bw.world.bob_user)
    assert query_count(lambda: client.get(QUEUE)) == small


def test_approval_posts_the_discount_as_a_clinic_adjustment(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 333_33)
    bill(alice, 100_00, insurance_cents=40_00, adjustment_cents=10_00)
    assert balance(alice) == 383_33
    application = apply(alice, bw.world.alice_user)
    client = client_for(bw.clerk)
    page = client.get(detail_url(application.pk))
    assert page.status_code == 200 and "$383.33" in page.content.decode()
    response = client.post(
        detail_url(application.pk),
        {"answer": "approve", "discount_percent": "40", "note": "Approved for 40%."},
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == AssistanceApplication.Status.APPROVED
    assert application.discount_percent == 40 and application.decided_by == bw.clerk
    entry = LedgerEntry.objects.get(reason="Financial assistance")
    assert entry.kind == LedgerEntry.Kind.ADJUSTMENT and entry.payer == LedgerEntry.Payer.CLINIC
    assert entry.amount_cents == 153_33  # 40% of $383.33, rounded down to the cent
    assert entry.posted_by == bw.clerk
    assert balance(alice) == 230_00
    assert_balanced(ledger.account_for(alice))
    event = AuditEvent.objects.get(action="billing.assistance_approve")
    assert event.actor_id == bw.clerk.pk and event.detail["adjusted_cents"] == 153_33
    titles = list(
        Notification.objects.filter(patient=alice, for_staff=False).values_list("recipient", "title")
    )
    assert (bw.world.alice_user.pk, "Your financial assistance application was approved") in titles
    assert (bw.payer.pk, "Your financial assistance application was approved") in titles
    assert all(recipient != bw.world.proxy_user.pk for recipient, _title in titles)
    decided = client.get(detail_url(application.pk)).content.decode()
    assert "Approved for 40%." in decided and "Record the decision" not in decided
    # Deciding twice changes nothing.
    again = client.post(detail_url(application.pk), {"answer": "approve", "discount_percent": "100"})
    assert again.status_code == 302
    assert LedgerEntry.objects.filter(reason="Financial assistance").count() == 1
    assert balance(alice) == 230_00
    patient_page = client_for(bw.world.alice_user).get(PAGE).content.decode()
    assert "Approved" in patient_page and "40%" in patient_page


def test_approval_with_nothing_owed_posts_nothing(bw: BillingWorld) -> None:
    application = apply(bw.world.alice, bw.world.alice_user)
    response = client_for(bw.clerk).post(
        detail_url(application.pk), {"answer": "approve", "discount_percent": "100"}
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == AssistanceApplication.Status.APPROVED
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()


def test_denial_needs_a_reason_and_tells_the_patient(bw: BillingWorld) -> None:
    bill(bw.world.alice, 200_00)
    application = apply(bw.world.alice, bw.world.alice_user)
    client = client_for(bw.clerk)
    missing_reason = client.post(detail_url(application.pk), {"answer": "deny", "note": "  "})
    assert missing_reason.status_code == 400 and "Tell the patient why" in missing_reason.content.decode()
    application.refresh_from_db()
    assert application.status == AssistanceApplication.Status.SUBMITTED
    response = client.post(
        detail_url(application.pk), {"answer": "deny", "note": "Household income is above the limit."}
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == AssistanceApplication.Status.DENIED
    assert application.decision == "Household income is above the limit."
    assert balance(bw.world.alice) == 200_00
    assert AuditEvent.objects.filter(action="billing.assistance_deny").exists()
    assert Notification.objects.filter(recipient=bw.world.alice_user, link=PAGE).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"answer": "approve"},
        {"answer": "approve", "discount_percent": "0"},
        {"answer": "approve", "discount_percent": "101"},
        {"answer": "approve", "discount_percent": "-10"},
        {"answer": "approve", "discount_percent": "ten"},
        {"answer": "approve", "discount_percent": "50", "note": "n" * 4001},
        {"answer": "maybe"},
        {},
    ],
)
def test_bad_decisions_change_nothing(bw: BillingWorld, data: dict[str, str]) -> None:
    bill(bw.world.alice, 200_00)
    application = apply(bw.world.alice, bw.world.alice_user)
    response = client_for(bw.clerk).post(detail_url(application.pk), data)
    assert response.status_code == 400
    application.refresh_from_db()
    assert application.status == AssistanceApplication.Status.SUBMITTED
    assert balance(bw.world.alice) == 200_00
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()


def test_staff_download_the_proof_safely(bw: BillingWorld) -> None:
    client_for(bw.world.alice_user).post(
        PAGE, application_post(document=SimpleUploadedFile("slip.pdf", PDF, content_type="application/pdf"))
    )
    application = AssistanceApplication.objects.get()
    response = client_for(bw.clerk).get(document_url(application.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="assistance-proof-{application.pk}.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert "no-store" in response["Cache-Control"]
    assert response.content == PDF
    assert AuditEvent.objects.filter(action="billing.assistance_document_view", actor_id=bw.clerk.pk).exists()


def test_an_application_without_proof_has_no_document(bw: BillingWorld) -> None:
    application = apply(bw.world.alice, bw.world.alice_user)
    client = client_for(bw.clerk)
    assert_same_as_missing(client.get(document_url(application.pk)), client.get(document_url(MISSING)))


def test_nobody_else_reaches_the_office_pages(bw: BillingWorld) -> None:
    client_for(bw.world.alice_user).post(
        PAGE, application_post(document=SimpleUploadedFile("slip.pdf", PDF, content_type="application/pdf"))
    )
    application = AssistanceApplication.objects.get()
    others = (
        bw.world.clinician,
        bw.world.unassigned_staff,
        bw.world.admin,
        bw.world.scheduler,
        bw.world.alice_user,
        bw.world.proxy_user,
        bw.payer,
        bw.world.bob_user,
    )
    for user in others:
        client = client_for(user)
        assert client.get(QUEUE).status_code == 404, user
        for url in (detail_url(application.pk), document_url(application.pk)):
            assert client.get(url).status_code == 404, (user, url)
        post = client.post(detail_url(application.pk), {"answer": "approve", "discount_percent": "100"})
        assert post.status_code == 404
    for url in (QUEUE, detail_url(application.pk), document_url(application.pk)):
        anonymous = client_for(None).get(url)
        assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    application.refresh_from_db()
    assert application.status == AssistanceApplication.Status.SUBMITTED


def test_billing_staff_never_work_their_own_family(bw: BillingWorld) -> None:
    ProxyGrant.objects.create(
        grantee=bw.clerk,
        patient=bw.world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.BILLING],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    application = apply(bw.world.alice, bw.world.alice_user)
    assert not Notification.objects.filter(recipient=bw.clerk, for_staff=True).exists()
    client = client_for(bw.clerk)
    assert detail_url(application.pk) not in client.get(QUEUE).content.decode()
    assert_same_as_missing(client.get(detail_url(application.pk)), client.get(detail_url(MISSING)))
    assert (
        client.post(detail_url(application.pk), {"answer": "approve", "discount_percent": "50"}).status_code
        == 404
    )
    application.refresh_from_db()
    assert application.status == AssistanceApplication.Status.SUBMITTED


def test_the_queue_read_is_audited_for_each_patient_listed(world: World) -> None:
    bw = billing_world(world)
    AssistanceApplication.objects.create(
        account=ledger.account_for(world.alice),
        household_size=3,
        annual_income_cents=2_000_000,
        employment="employed",
        insured=False,
        reason="job loss",
        created_by=world.alice_user,
    )
    client = Client()
    client.force_login(bw.clerk)
    assert client.get(reverse("staff_billing:assistance")).status_code == 200
    event = AuditEvent.objects.get(action="billing.assistance_queue_view")
    assert event.detail["patients"] == [world.alice.pk]
