"""Insurance from billing: coverages on file (masked), adding and replacing one with card
photos, card downloads, claims with their service lines, and everyone who may not."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.billing import ledger
from portal.billing.models import Claim, CoverageBenefits, ServiceLine
from portal.billing.tests.support import BillingWorld, bill, billing_world
from portal.patients.models import Coverage, Patient
from portal.scheduling.tests.test_coverage import jpeg_with_exif, png
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321
MEMBER_ID = "XY123456789"
GROUP = "GRP-55501234"


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


def make_coverage(patient: Patient, **fields: Any) -> Coverage:
    coverage = Coverage(
        patient=patient,
        priority=fields.pop("priority", Coverage.Priority.PRIMARY),
        payer_name=fields.pop("payer_name", "Acme Health"),
        plan_name="Gold PPO",
        member_id=fields.pop("member_id", MEMBER_ID),
        group_number=fields.pop("group_number", GROUP),
        subscriber_name="Alice Able",
        **fields,
    )
    coverage.card_front.save("front", ContentFile(jpeg_with_exif()), save=False)
    coverage.card_front_type = "image/jpeg"
    coverage.save()
    return coverage


def coverage_post(**overrides: Any) -> dict[str, Any]:
    return {
        "priority": "primary",
        "payer_name": "Northwind Health",
        "plan_name": "Silver",
        "member_id": "NW987654321",
        "group_number": "77001234",
        "subscriber_name": "Alice Able",
        "subscriber_relationship": "self",
        "effective_from": "2026-01-01",
        "card_front": SimpleUploadedFile("front.jpg", jpeg_with_exif(), content_type="image/jpeg"),
        "card_back": SimpleUploadedFile("back.png", png(), content_type="image/png"),
        **overrides,
    }


def actions(patient: Patient) -> list[str]:
    return list(AuditEvent.objects.filter(patient_id=patient.pk).values_list("action", flat=True))


def media_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


INSURANCE = reverse("billing:insurance")
ADD = reverse("billing:insurance_add")
CLAIMS = reverse("billing:claims")


def replace_url(coverage_id: int) -> str:
    return reverse("billing:insurance_replace", args=[coverage_id])


def card_url(coverage_id: int, side: str = "front") -> str:
    return reverse("billing:insurance_card", args=[coverage_id, side])


# The insurance page ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "billing_proxy"])
def test_coverages_on_file_with_masked_identifiers_and_benefits(bw: BillingWorld, who: str) -> None:
    alice = bw.world.alice
    primary = make_coverage(alice, status=Coverage.Status.VERIFIED, effective_from=dt.date(2026, 1, 1))
    CoverageBenefits.objects.create(
        coverage=primary,
        deductible_cents=1500_00,
        deductible_met_cents=400_00,
        coinsurance_percent=20,
        copay_cents=25_00,
        out_of_pocket_max_cents=6000_00,
        out_of_pocket_met_cents=900_00,
    )
    make_coverage(
        alice, priority=Coverage.Priority.SECONDARY, payer_name="Second Mutual", member_id="SM55558888"
    )
    make_coverage(alice, payer_name="Old Insurer", status=Coverage.Status.INACTIVE)
    make_coverage(bw.world.bob, payer_name="Bobs Insurer")
    user = bw.world.alice_user if who == "patient" else bw.payer
    response = client_for(user).get(INSURANCE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Health" in html and "Second Mutual" in html
    assert "Old Insurer" not in html and "Bobs Insurer" not in html
    assert MEMBER_ID not in html and "123456789" not in html and "SM55558888" not in html
    assert "••••6789" in html and "••••8888" in html
    assert GROUP not in html and "••••1234" in html
    assert "Checked by the clinic" in html and "Waiting for the clinic to check" in html
    assert "$400.00 met of $1,500.00" in html and "$900.00 met of $6,000.00" in html
    assert "$25.00" in html and "20%" in html
    assert card_url(primary.pk) in html
    assert "billing.insurance_view" in actions(alice)


def test_no_coverage_says_so(bw: BillingWorld) -> None:
    response = client_for(bw.world.alice_user).get(INSURANCE)
    assert response.status_code == 200
    assert "no insurance on file" in response.content.decode()


# Adding and replacing --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "billing_proxy"])
def test_adding_a_coverage_stores_it_pending_with_clean_card_photos(
    bw: BillingWorld, who: str, _media_in_tmp: Path
) -> None:
    user = bw.world.alice_user if who == "patient" else bw.payer
    client = client_for(user)
    assert client.get(ADD).status_code == 200
    response = client.post(ADD, coverage_post())
    assert response.status_code == 302 and response["Location"] == INSURANCE
    coverage = Coverage.objects.get(payer_name="Northwind Health")
    assert coverage.patient == bw.world.alice and coverage.created_by == user
    assert coverage.status == Coverage.Status.PENDING
    assert coverage.effective_from == dt.date(2026, 1, 1) and coverage.effective_until is None
    assert coverage.card_front_type == "image/jpeg" and coverage.card_back_type == "image/png"
    assert re.fullmatch(r"insurance-cards/[0-9a-f]{32}", coverage.card_front.name)
    with coverage.card_front.open("rb") as stored:
        assert b"SpyCam" not in stored.read()
    event = AuditEvent.objects.get(action="billing.coverage_add")
    assert event.actor_id == user.pk and event.patient_id == bw.world.alice.pk
    page = client.get(INSURANCE).content.decode()
    assert "Northwind Health" in page and "NW987654321" not in page and "••••4321" in page


def test_replacing_makes_the_old_one_inactive(bw: BillingWorld) -> None:
    old = make_coverage(bw.world.alice, status=Coverage.Status.VERIFIED)
    client = client_for(bw.world.alice_user)
    form = client.get(replace_url(old.pk))
    assert form.status_code == 200
    html = form.content.decode()
    assert 'value="Acme Health"' in html
    assert MEMBER_ID not in html and GROUP not in html
    response = client.post(replace_url(old.pk), coverage_post(payer_name="Acme Health"))
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.status == Coverage.Status.INACTIVE
    new = Coverage.objects.exclude(pk=old.pk).get()
    assert new.status == Coverage.Status.PENDING and new.member_id == "NW987654321"
    assert AuditEvent.objects.get(action="billing.coverage_add").detail["replaces"] == old.pk
    # The replaced coverage is gone from the page and from its URLs.
    page = client.get(INSURANCE).content.decode()
    assert "will check your insurance" in page and page.count('insurance-coverage"') == 1
    assert_same_as_missing(client.get(replace_url(old.pk)), client.get(replace_url(MISSING)))
    assert_same_as_missing(client.get(card_url(old.pk)), client.get(card_url(MISSING)))
    # A second replacement of the same (now inactive) coverage stores nothing.
    assert client.post(replace_url(old.pk), coverage_post()).status_code == 404
    assert Coverage.objects.count() == 2


def test_adding_with_replaces_choice_from_the_add_page(bw: BillingWorld) -> None:
    old = make_coverage(bw.world.alice)
    theirs = make_coverage(bw.world.bob)
    client = client_for(bw.world.alice_user)
    refused = client.post(ADD, coverage_post(replaces=str(theirs.pk)))
    assert refused.status_code == 400
    assert not Coverage.objects.filter(payer_name="Northwind Health").exists()
    assert client.post(ADD, coverage_post(replaces=str(old.pk))).status_code == 302
    old.refresh_from_db()
    theirs.refresh_from_db()
    assert old.status == Coverage.Status.INACTIVE and theirs.status == Coverage.Status.PENDING


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"card_front": SimpleUploadedFile("card.jpg", b"not an image at all", "image/jpeg")}, "JPEG or PNG"),
        ({"card_back": SimpleUploadedFile("card.png", b"%PDF-1.7\n%%EOF\n", "image/png")}, "JPEG or PNG"),
        ({"card_front": ""}, "required"),
        ({"member_id": ""}, "required"),
        ({"member_id": "9" * 41}, "at most 40"),
        ({"priority": "tertiary"}, "valid choice"),
        ({"effective_from": "2026-05-01", "effective_until": "2026-01-01"}, "before the start"),
        ({"effective_from": "yesterday"}, "valid date"),
    ],
)
def test_bad_input_is_a_clear_error_and_stores_nothing(
    bw: BillingWorld, _media_in_tmp: Path, overrides: dict[str, Any], message: str
) -> None:
    response = client_for(bw.world.alice_user).post(ADD, coverage_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Coverage.objects.exists()
    assert media_files(_media_in_tmp) == []
    assert "billing.coverage_add" not in actions(bw.world.alice)


def test_an_oversized_card_is_refused(bw: BillingWorld, settings: Any, _media_in_tmp: Path) -> None:
    settings.PORTAL_INSURANCE_CARD_MAX_BYTES = 100
    response = client_for(bw.world.alice_user).post(ADD, coverage_post())
    assert response.status_code == 400
    assert "too large" in response.content.decode()
    assert not Coverage.objects.exists() and media_files(_media_in_tmp) == []


# Card downloads -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "billing_proxy"])
def test_a_card_photo_downloads_as_a_safe_attachment(bw: BillingWorld, who: str) -> None:
    coverage = make_coverage(bw.world.alice)
    user = bw.world.alice_user if who == "patient" else bw.payer
    response = client_for(user).get(card_url(coverage.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == 'attachment; filename="insurance-card-front.jpg"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"\xff\xd8\xff")
    assert AuditEvent.objects.filter(action="billing.card_view", actor_id=user.pk).exists()


def test_a_card_photo_is_missing_for_everyone_else(bw: BillingWorld) -> None:
    coverage = make_coverage(bw.world.alice)
    for user in (bw.world.bob_user, bw.world.proxy_user):
        client = client_for(user)
        assert_same_as_missing(client.get(card_url(coverage.pk)), client.get(card_url(MISSING)))
        assert_same_as_missing(client.get(replace_url(coverage.pk)), client.get(replace_url(MISSING)))
        assert client.post(replace_url(coverage.pk), coverage_post()).status_code == 404
    assert Coverage.objects.count() == 1
    alice = client_for(bw.world.alice_user)
    assert_same_as_missing(alice.get(card_url(coverage.pk, "back")), alice.get(card_url(MISSING, "back")))
    assert alice.get(card_url(coverage.pk, "inside")).status_code == 404
    assert alice.post(card_url(coverage.pk)).status_code == 405
    assert alice.get(f"/billing/insurance/{10**30}/card/front/").status_code == 404
    assert AuditEvent.objects.filter(action="access.refused", actor_id=bw.world.bob_user.pk).exists()


# Claims ------------------------------------------------------------------------------------------


def make_claim(patient: Patient, days_ago: int, number: str, **fields: Any) -> Claim:
    on = timezone.localdate() - dt.timedelta(days=days_ago)
    claim = Claim.objects.create(
        account=ledger.account_for(patient),
        number=number,
        payer_name=fields.pop("payer_name", "Acme Health"),
        service_date=on,
        submitted_on=on + dt.timedelta(days=2),
        billed_cents=fields.pop("billed_cents", 300_00),
        paid_cents=fields.pop("paid_cents", 180_00),
        adjusted_cents=fields.pop("adjusted_cents", 70_00),
        patient_cents=fields.pop("patient_cents", 50_00),
        status=fields.pop("status", Claim.Status.PAID),
        **fields,
    )
    for code in ("99213", "85025"):
        line = bill(patient, 150_00, insurance_cents=90_00, adjustment_cents=35_00, code=code, on=on)
        ServiceLine.objects.filter(pk=line.pk).update(claim=claim)
    return claim


@pytest.mark.parametrize("who", ["patient", "billing_proxy"])
def test_claims_show_what_insurance_paid_and_each_line(bw: BillingWorld, who: str) -> None:
    make_claim(bw.world.alice, 20, "CLM-1")
    make_claim(
        bw.world.alice,
        5,
        "CLM-2",
        status=Claim.Status.DENIED,
        paid_cents=0,
        patient_cents=300_00,
        adjusted_cents=0,
        denial_reason="Service not covered by the plan",
    )
    make_claim(bw.world.bob, 3, "CLM-BOB")
    user = bw.world.alice_user if who == "patient" else bw.payer
    response = client_for(user).get(CLAIMS)
    assert response.status_code == 200
    html = response.content.decode()
    assert "CLM-1" in html and "CLM-2" in html and "CLM-BOB" not in html
    assert html.index("CLM-2") < html.index("CLM-1")  # newest visit first
    assert "Denied by insurance" in html and "Service not covered by the plan" in html
    assert "$180.00" in html and "$70.00" in html and "$50.00" in html
    assert "85025" in html and "$90.00" in html and "$35.00" in html and "$25.00" in html
    assert "billing.claims_view" in actions(bw.world.alice)


def test_claims_are_keyset_paged(bw: BillingWorld) -> None:
    for day in range(23):
        make_claim(bw.world.alice, day + 1, f"CLM-{day:02d}")
    client = client_for(bw.world.alice_user)
    first = client.get(CLAIMS)
    cursor = first.context["page"].next_cursor
    assert len(first.context["rows"]) == 20 and cursor
    second = client.get(CLAIMS, {"after": cursor})
    numbers = [claim.number for claim, _lines in second.context["rows"]]
    assert numbers == ["CLM-20", "CLM-21", "CLM-22"]
    assert client.get(CLAIMS, {"after": "garbage_x"}).status_code == 200


def test_no_claims_says_so(bw: BillingWorld) -> None:
    response = client_for(bw.world.alice_user).get(CLAIMS)
    assert response.status_code == 200 and "No claims" in response.content.decode()


# Who may not --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [INSURANCE, ADD, CLAIMS])
def test_a_proxy_without_billing_is_told_it_is_not_shared(bw: BillingWorld, path: str) -> None:
    make_coverage(bw.world.alice)
    make_claim(bw.world.alice, 5, "CLM-1")
    response = client_for(bw.world.proxy_user).get(path)
    assert response.status_code == 403
    html = response.content.decode()
    assert "not shared with you" in html and "Acme Health" not in html and "CLM-1" not in html


@pytest.mark.parametrize("path", [INSURANCE, CLAIMS])
def test_another_patient_sees_only_their_own(bw: BillingWorld, path: str) -> None:
    make_coverage(bw.world.alice)
    make_claim(bw.world.alice, 5, "CLM-ALICE")
    response = client_for(bw.world.bob_user).get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Health" not in html and "CLM-ALICE" not in html


def test_staff_and_anonymous_get_nothing_on_the_patient_side(bw: BillingWorld) -> None:
    coverage = make_coverage(bw.world.alice)
    paths = [INSURANCE, ADD, CLAIMS, replace_url(coverage.pk), card_url(coverage.pk)]
    staff = (bw.clerk, bw.world.clinician, bw.world.unassigned_staff, bw.world.admin)
    for user in staff:
        client = client_for(user)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 302 and response["Location"] == reverse("staff:home"), (user, path)
        assert client.post(ADD, coverage_post()).status_code == 302
    for path in paths:
        anonymous = client_for(None).get(path)
        assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert Coverage.objects.count() == 1


# Bounded queries ---------------------------------------------------------------------------------


def test_the_insurance_page_runs_the_same_queries_however_many_coverages(bw: BillingWorld) -> None:
    client = client_for(bw.world.alice_user)
    first = make_coverage(bw.world.alice)
    CoverageBenefits.objects.create(coverage=first, deductible_cents=100_00)
    client.get(INSURANCE)
    small = query_count(lambda: client.get(INSURANCE))
    for number in range(6):
        extra = make_coverage(bw.world.alice, member_id=f"M{number:08d}")
        CoverageBenefits.objects.create(coverage=extra, deductible_cents=100_00)
        make_coverage(bw.world.alice, member_id=f"OLD{number:06d}", status=Coverage.Status.INACTIVE)
    assert query_count(lambda: client.get(INSURANCE)) == small


def test_the_claims_page_runs_the_same_queries_however_many_claims(bw: BillingWorld) -> None:
    client = client_for(bw.world.alice_user)
    make_claim(bw.world.alice, 1, "CLM-A")
    client.get(CLAIMS)
    small = query_count(lambda: client.get(CLAIMS))
    for day in range(25):
        make_claim(bw.world.alice, day + 2, f"CLM-{day:02d}")
    assert query_count(lambda: client.get(CLAIMS)) == small
