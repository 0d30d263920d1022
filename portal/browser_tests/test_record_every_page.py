"""Every page of the health record, patient side and staff side, with a full record: axe-clean at
desktop and phone width, no console errors, no sideways scrolling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.records.models import AmendmentRequest, Document, Procedure, ResultReport
from portal.records.tests.support import (
    make_allergy,
    make_immunization,
    make_medication,
    make_note,
    make_panel,
    make_problem,
    make_visit,
)
from portal.test import World

pytestmark = pytest.mark.browser


def full_record(world: World) -> dict[str, int]:
    patient = world.alice
    visit = make_visit(patient)
    note = make_note(patient, encounter=visit)
    report = make_panel(patient, encounter=visit)
    make_panel(
        patient, "Lipid panel", available_at=timezone.now() + dt.timedelta(hours=8), hold_reason="Review"
    )
    ResultReport.objects.create(
        patient=patient,
        category=ResultReport.Category.IMAGING,
        name="Chest X-ray, 2 views",
        effective_at=timezone.now() - dt.timedelta(days=20),
        issued_at=timezone.now() - dt.timedelta(days=20),
        modality="DX",
        body_site="Chest",
        findings="The lungs are clear. The heart is normal in size.",
        impression="No acute disease.",
    )
    make_medication(patient)
    make_medication(patient, "Amoxicillin", status="completed", ended_on=dt.date(2024, 2, 1))
    make_allergy(patient)
    make_immunization(patient)
    make_problem(patient)
    Procedure.objects.create(
        patient=patient, name="Colonoscopy", performed_at=timezone.now() - dt.timedelta(days=300)
    )
    document = Document(
        patient=patient,
        title="Letter from a cardiologist",
        dated_on=dt.date(2025, 4, 1),
        content_type="application/pdf",
        size=8,
        sha256="0" * 64,
    )
    document.file.save("letter.pdf", ContentFile(b"%PDF-1.4"), save=True)
    amendment = AmendmentRequest.objects.create(
        patient=patient,
        requested_by=world.alice_user,
        item_type="records.medication",
        item_id=1,
        item_label="Lisinopril 10 mg tablet",
        description="I stopped taking this in March.",
    )
    return {"visit": visit.pk, "note": note.pk, "report": report.pk, "amendment": amendment.pk}


def visit_each(page: Page, paths: list[str]) -> None:
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        check_page(page)


def test_every_patient_record_page_is_accessible(page: Page, world: World, log_in: LogIn) -> None:
    ids = full_record(world)
    log_in(world.alice_user)
    simple = [
        "summary",
        "results",
        "imaging",
        "notes",
        "medications",
        "allergies",
        "immunizations",
        "problems",
        "visits",
        "procedures",
        "documents",
        "preferences",
    ]
    paths = [reverse(f"records:{name}") for name in simple]
    paths += [
        reverse("records:result", args=[ids["report"]]),
        reverse("records:trend", args=["2823-3"]),
        reverse("records:note", args=[ids["note"]]),
        reverse("records:visit", args=[ids["visit"]]),
        reverse("record_export:choose"),
        reverse("record_export:print") + "?sections=results&sections=medications&sections=visits",
        reverse("record_sharing:list"),
        reverse("record_sharing:new"),
        reverse("corrections:list"),
        reverse("corrections:detail", args=[ids["amendment"]]),
        reverse("corrections:new") + f"?type=records.resultreport&id={ids['report']}",
    ]
    visit_each(page, paths)


def test_every_staff_record_page_is_accessible(page: Page, world: World, log_in: LogIn) -> None:
    ids = full_record(world)
    log_in(world.clinician)
    patient = world.alice.pk
    visit_each(
        page,
        [
            reverse("staff_records:record", args=[patient]),
            reverse("staff_records:result", args=[patient, ids["report"]]),
            reverse("staff_records:new_result", args=[patient]),
            reverse("staff_records:new_note", args=[patient]),
            reverse("staff_records:held"),
            reverse("staff_records:amendments"),
            reverse("staff_records:amendment", args=[ids["amendment"]]),
            reverse("staff_records:hold_rules"),
        ],
    )
