"""The rest of the record on the patient side: summary, notes, medications, allergies,
immunizations, problems, visits, procedures, documents, and the home page's results card."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.patients.models import Scope
from portal.records.models import (
    ClinicalNote,
    Correction,
    Document,
    Medication,
    Problem,
    Procedure,
    ResultReport,
)
from portal.records.tests.support import (
    days_ago,
    make_allergy,
    make_immunization,
    make_medication,
    make_note,
    make_panel,
    make_problem,
    make_visit,
)
from portal.records.views_sections import PER_PAGE
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

# Every list page and the audit action its read records.
LIST_PAGES = {
    "records:summary": "records.summary_view",
    "records:results": "records.results_view",
    "records:imaging": "records.imaging_view",
    "records:notes": "records.notes_view",
    "records:medications": "records.medications_view",
    "records:allergies": "records.allergies_view",
    "records:immunizations": "records.immunizations_view",
    "records:problems": "records.problems_view",
    "records:visits": "records.visits_view",
    "records:procedures": "records.procedures_view",
    "records:documents": "records.documents_view",
    "records:preferences": "records.preferences_view",
}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def make_procedure(world: World, name: str = "Knee arthroscopy", **fields: Any) -> Procedure:
    return Procedure.objects.create(
        patient=fields.pop("patient", world.alice),
        name=name,
        performed_at=fields.pop("performed_at", days_ago(100)),
        performer_name="Dr Knee",
        **fields,
    )


def make_document(world: World, title: str = "Letter from the cardiologist", **fields: Any) -> Document:
    document = Document(
        patient=fields.pop("patient", world.alice),
        title=title,
        kind=Document.Kind.LETTER,
        dated_on=fields.pop("dated_on", dt.date(2025, 4, 2)),
        content_type="application/pdf",
        size=len(PDF),
        sha256="0" * 64,
        **fields,
    )
    document.file.save("letter.pdf", ContentFile(PDF), save=True)
    return document


@pytest.fixture
def record(world: World) -> World:
    """A little of everything in Alice's record, and a panel of Bob's."""
    make_panel(world.alice)
    make_problem(world.alice)
    make_problem(world.alice, "Broken wrist", status=Problem.Status.RESOLVED, abated_on=dt.date(2019, 8, 1))
    make_medication(world.alice, refills_remaining=2)
    make_medication(
        world.alice, "Amoxicillin", status=Medication.Status.COMPLETED, ended_on=dt.date(2024, 2, 1)
    )
    make_allergy(world.alice)
    make_allergy(world.alice, "Latex", status="resolved")
    make_immunization(world.alice)
    visit = make_visit(world.alice)
    make_note(world.alice, "Follow-up note", encounter=visit)
    make_procedure(world, encounter=visit)
    make_document(world)
    make_panel(world.bob, "Bob's thyroid panel")
    return world


# The summary ---------------------------------------------------------------------------------


def test_the_summary_shows_what_matters_now(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    response = client.get(reverse("records:summary"))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in (
        "Essential hypertension",
        "Lisinopril",
        "Take 1 tablet by mouth once a day",
        "Penicillin",
        "Hives",
        "Influenza, seasonal",
        "Basic metabolic panel",
        "Potassium 5.4 mmol/L",
        "High",
        "Blood pressure follow-up",
    ):
        assert shown in page, shown
    for hidden in ("Broken wrist", "Amoxicillin", "Latex", "Bob's thyroid panel"):
        assert hidden not in page, hidden
    assert reverse("record_export:choose") in page
    assert reverse("record_sharing:list") in page
    assert reverse("records:preferences") in page
    assert AuditEvent.objects.filter(action="records.summary_view", actor_role="patient").exists()


def test_a_caregiver_sees_the_summary_without_the_share_link(client: Client, record: World) -> None:
    client.force_login(record.proxy_user)
    page = client.get(reverse("records:summary")).content.decode()
    assert "Essential hypertension" in page
    assert reverse("record_sharing:list") not in page


def test_the_summary_costs_the_same_for_5_and_50_of_everything(client: Client, world: World) -> None:
    def add(count: int) -> None:
        for number in range(count):
            make_panel(world.alice, f"Panel {number}", when=days_ago(number + 1))
            make_problem(world.alice, f"Problem {number}")
            make_medication(world.alice, f"Medicine {number}")
            make_allergy(world.alice, f"Substance {number}")
            make_immunization(world.alice, f"Vaccine {number}")
            make_visit(world.alice)

    add(5)
    client.force_login(world.alice_user)
    client.get(reverse("records:summary"))
    few = query_count(lambda: client.get(reverse("records:summary")))
    add(45)
    assert query_count(lambda: client.get(reverse("records:summary"))) == few


# Notes ---------------------------------------------------------------------------------------


def test_a_note_is_plain_text_with_its_line_breaks(client: Client, world: World) -> None:
    note = make_note(world.alice, body="Line one.\nLine <b>two</b> & more.")
    client.force_login(world.alice_user)
    page = client.get(reverse("records:note", args=[note.pk])).content.decode()
    assert "Line one.<br>Line &lt;b&gt;two&lt;/b&gt; &amp; more." in page
    assert "<b>two</b>" not in page
    assert "This looks wrong" in page
    assert AuditEvent.objects.filter(action="records.note_view", object_id=str(note.pk)).exists()


def test_a_note_entered_in_error_says_so(client: Client, world: World) -> None:
    note = make_note(world.alice, "Wrong patient note", status=ClinicalNote.Status.ENTERED_IN_ERROR)
    client.force_login(world.alice_user)
    assert "Entered in error" in client.get(reverse("records:notes")).content.decode()
    page = client.get(reverse("records:note", args=[note.pk])).content.decode()
    assert "Entered in error." in page
    assert "does not describe your care" in page


def test_an_amended_note_keeps_its_earlier_version(client: Client, world: World) -> None:
    note = make_note(world.alice, body="New text", status=ClinicalNote.Status.AMENDED)
    Correction.objects.create(
        patient=world.alice,
        item_type="records.clinicalnote",
        item_id=note.pk,
        previous={"title": "Visit note", "body": "Old text", "status": "current"},
        reason="Wrong dose written",
    )
    client.force_login(world.alice_user)
    page = client.get(reverse("records:note", args=[note.pk])).content.decode()
    assert "Earlier versions" in page and "Old text" in page and "Wrong dose written" in page


def test_notes_page_newest_first(client: Client, world: World) -> None:
    for number in range(PER_PAGE + 3):
        make_note(world.alice, f"Note {number:02d}", written_at=days_ago(number + 1))
    client.force_login(world.alice_user)
    first = client.get(reverse("records:notes"))
    titles = [note.title for note in first.context["page"].items]
    assert titles[0] == "Note 00" and len(titles) == PER_PAGE
    assert first.content.decode().count("This looks wrong") == PER_PAGE
    second = client.get(reverse("records:notes") + "?after=" + first.context["page"].next_cursor)
    assert [note.title for note in second.context["page"].items] == [f"Note {n}" for n in (20, 21, 22)]


@pytest.mark.parametrize(
    "name", ["records:notes", "records:visits", "records:immunizations", "records:procedures"]
)
def test_dated_lists_cost_the_same_for_5_and_50_rows(client: Client, world: World, name: str) -> None:
    def add(count: int) -> None:
        for _number in range(count):
            make_note(world.alice)
            make_visit(world.alice)
            make_immunization(world.alice)
            make_procedure(world)

    add(5)
    client.force_login(world.alice_user)
    client.get(reverse(name))
    few = query_count(lambda: client.get(reverse(name)))
    add(45)
    assert query_count(lambda: client.get(reverse(name))) == few


# Medications, allergies, immunizations, problems, procedures ---------------------------------


def test_medications_active_and_past_with_their_details(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    response = client.get(reverse("records:medications"))
    page = response.content.decode()
    active, past = page.index("Active medications"), page.index("Past medications")
    assert active < page.index("Lisinopril") < past < page.index("Amoxicillin")
    for shown in (
        "10 mg tablet",
        "Take 1 tablet by mouth once a day",
        "Carol Staff, MD",
        "Refills left",
        "Last filled",
    ):
        assert shown in page
    assert page.count("This looks wrong") == 2


def test_allergies_problems_immunizations_and_procedures(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    allergies = client.get(reverse("records:allergies")).content.decode()
    assert allergies.index("Penicillin") < allergies.index("No longer active") < allergies.index("Latex")
    assert "Moderate" in allergies and "Hives" in allergies
    problems = client.get(reverse("records:problems")).content.decode()
    assert problems.index("Essential hypertension") < problems.index("Resolved or inactive")
    assert problems.index("Resolved or inactive") < problems.index("Broken wrist")
    immunizations = client.get(reverse("records:immunizations")).content.decode()
    assert "Influenza, seasonal" in immunizations
    procedures = client.get(reverse("records:procedures")).content.decode()
    assert "Knee arthroscopy" in procedures and "Dr Knee" in procedures
    for page in (allergies, problems, immunizations, procedures):
        assert "This looks wrong" in page


# Visits --------------------------------------------------------------------------------------


def test_a_visit_summary_links_what_happened_during_it(client: Client, record: World) -> None:
    visit = make_visit(record.alice, reason="Knee pain")
    make_note(record.alice, "Knee note", encounter=visit)
    make_procedure(record, "Knee injection", encounter=visit)
    make_panel(record.alice, "Knee fluid test", encounter=visit)
    client.force_login(record.alice_user)
    listing = client.get(reverse("records:visits")).content.decode()
    assert "Knee pain" in listing
    page = client.get(reverse("records:visit", args=[visit.pk])).content.decode()
    for shown in (
        "Blood pressure checked and medication reviewed.",
        "Essential hypertension",
        "Keep taking lisinopril.",
        "Return in 6 months.",
        "Carol Staff, MD",
        "Knee note",
        "Knee injection",
        "Knee fluid test",
    ):
        assert shown in page, shown
    assert "Follow-up note" not in page  # that note belongs to another visit
    assert AuditEvent.objects.filter(action="records.visit_view", object_id=str(visit.pk)).exists()


def test_malformed_diagnoses_do_not_break_the_visit(client: Client, world: World) -> None:
    visit = make_visit(world.alice, diagnoses=[{"code": "J06.9"}, "nonsense", {"other": 1}, None])
    client.force_login(world.alice_user)
    response = client.get(reverse("records:visit", args=[visit.pk]))
    assert response.status_code == 200
    assert "J06.9" in response.content.decode()
    make_visit(world.alice, diagnoses={"not": "a list"})
    assert client.get(reverse("records:visits")).status_code == 200


# Documents -----------------------------------------------------------------------------------


def test_a_document_downloads_as_an_attachment(client: Client, record: World) -> None:
    document = Document.objects.get(patient=record.alice)
    client.force_login(record.alice_user)
    assert "Letter from the cardiologist" in client.get(reverse("records:documents")).content.decode()
    response = client.get(reverse("records:document", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="letter-from-the-cardiologist-2025-04-02.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action="records.document_download", object_id=str(document.pk)).exists()


def test_a_document_whose_file_is_gone_is_missing(client: Client, world: World) -> None:
    document = make_document(world)
    document.file.delete(save=False)
    client.force_login(world.alice_user)
    assert client.get(reverse("records:document", args=[document.pk])).status_code == 404


# Who may see ---------------------------------------------------------------------------------


def test_another_patient_gets_the_missing_page_for_alices_items(client: Client, record: World) -> None:
    note = ClinicalNote.objects.get(patient=record.alice)
    visit = note.encounter
    assert visit is not None
    document = Document.objects.get(patient=record.alice)
    client.force_login(record.bob_user)
    for name, pk in (
        ("records:note", note.pk),
        ("records:visit", visit.pk),
        ("records:document", document.pk),
    ):
        assert_same_as_missing(
            client.get(reverse(name, args=[pk])), client.get(reverse(name, args=[MISSING]))
        )
    for name in ("records:notes", "records:visits", "records:documents", "records:medications"):
        page = client.get(reverse(name)).content.decode()
        assert "Follow-up note" not in page and "Letter from the cardiologist" not in page
        assert "Lisinopril" not in page


@pytest.mark.parametrize(("name", "action"), list(LIST_PAGES.items()))
def test_every_page_is_audited_for_the_patient_and_the_proxy(
    client: Client, record: World, name: str, action: str
) -> None:
    for user, role in ((record.alice_user, "patient"), (record.proxy_user, "proxy")):
        client.force_login(user)
        assert client.get(reverse(name)).status_code == 200
        assert AuditEvent.objects.filter(action=action, actor_id=user.pk, actor_role=role).exists()
    assert not describe(action).startswith("accessed your record (")  # a phrase is registered


@pytest.mark.parametrize("name", list(LIST_PAGES))
def test_every_page_refuses_those_without_view_access(client: Client, record: World, name: str) -> None:
    url = reverse(name)
    assert client.get(url)["Location"].startswith(reverse("account_login"))
    client.force_login(record.unassigned_staff)
    assert client.get(url)["Location"] == reverse("staff:home")
    record.proxy_grant.scopes = [Scope.MESSAGE]
    record.proxy_grant.save()
    client.force_login(record.proxy_user)
    response = client.get(url)
    assert response.status_code == 403
    assert "This part of the account is not shared with you" in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="records.").exists()


def test_the_nav_marks_the_health_record(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    page = client.get(reverse("records:medications")).content.decode()
    assert f'<a href="{reverse("records:summary")}" aria-current="page">Health record</a>' in page
    assert f'<a href="{reverse("records:medications")}" aria-current="page">Medications</a>' in page


# The home page's card ------------------------------------------------------------------------


def test_the_card_counts_new_results_per_user(client: Client, world: World) -> None:
    make_panel(world.alice, "Older panel", when=days_ago(9))
    latest = make_panel(world.alice, "Latest panel", when=days_ago(1))
    client.force_login(world.alice_user)
    page = client.get(reverse("home")).content.decode()
    assert "Test results" in page and "2 new results you have not opened yet." in page
    assert "Latest panel" in page and reverse("records:result", args=[latest.pk]) in page
    client.get(reverse("records:result", args=[latest.pk]))
    assert "1 new result you have not opened yet." in client.get(reverse("home")).content.decode()
    client.force_login(world.proxy_user)
    assert "2 new results" in client.get(reverse("home")).content.decode()


def test_the_card_needs_results_and_the_view_scope(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    assert "Test results" not in client.get(reverse("home")).content.decode()
    make_panel(world.alice)
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    client.force_login(world.proxy_user)
    page = client.get(reverse("home")).content.decode()
    assert "Basic metabolic panel" not in page and "new result" not in page


def test_the_card_costs_the_same_for_5_and_50_results(client: Client, world: World) -> None:
    from portal.dashboard.cards import cards_for
    from portal.patients.access import decide
    from portal.records.dashboard_cards import new_results

    for number in range(5):
        make_panel(world.alice, when=days_ago(number + 1), category=ResultReport.Category.LAB)
    access = decide(world.alice_user, world.alice)
    assert access is not None
    cards_for(None, access)  # type: ignore[arg-type]  # discovers the providers once
    few = query_count(lambda: new_results(None, access))  # type: ignore[arg-type]
    for number in range(45):
        make_panel(world.alice, when=days_ago(number + 10))
    assert query_count(lambda: new_results(None, access)) == few == 3  # type: ignore[arg-type]
