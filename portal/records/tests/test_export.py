"""Downloading and printing the record: choose, print, PDF and FHIR, as every persona."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.patients.tests.support import sign_in_recently
from portal.records import pdf as record_pdf_module
from portal.records import (
    pdf_document,
    share_phrases,  # noqa: F401  (until apps.py imports it)
)
from portal.records.export import Selection, gather
from portal.records.models import ResultReport
from portal.records.sections import SECTIONS
from portal.records.tests.support import (
    days_ago,
    make_allergy,
    make_medication,
    make_note,
    make_panel,
    make_problem,
    make_visit,
)
from portal.test import World, make_patient, make_user, query_count

pytestmark = pytest.mark.django_db

ALL = list(SECTIONS)


@pytest.fixture
def record(world: World) -> World:
    """Alice's record: a released panel, a held one, a note, a medication, an allergy; Bob's own panel."""
    make_panel(world.alice)
    make_panel(
        world.alice,
        "Held lipid panel",
        values=[("2093-3", "Cholesterol", "240", "mg/dL", "0", "200")],
        available_at=days_ago(-2),
    )
    make_note(world.alice, "Blood pressure follow-up")
    make_medication(world.alice)
    make_allergy(world.alice)
    make_problem(world.alice)
    make_visit(world.alice)
    make_panel(world.bob, "Thyroid panel", values=[("3016-3", "TSH", "2.1", "mIU/L", "0.4", "4.0")])
    return world


def url(name: str, sections: list[str] | None = None, /, **query: str) -> str:
    params = [("sections", slug) for slug in (ALL if sections is None else sections)]
    params += list(query.items())
    return reverse(f"record_export:{name}") + "?" + "&".join(f"{key}={value}" for key, value in params)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def teenager(world: World) -> tuple[Patient, Any]:
    """Tia, 15, with confidential care in her record, and her father with view access."""
    today = timezone.localdate()
    tia = make_patient("10000015", "Tia", "Able", world.campus, account=make_user("tia"))
    tia.birth_date = dt.date(today.year - 15, 1, 1)
    tia.save(update_fields=["birth_date"])
    father = make_user("frank", first_name="Frank", last_name="Able")
    ProxyGrant.objects.create(
        grantee=father,
        patient=tia,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=days_ago(365 * 10),
    )
    make_panel(tia, "Iron studies", values=[("2498-4", "Iron", "80", "ug/dL", "50", "170")])
    make_panel(
        tia,
        "Chlamydia screen",
        values=[("21613-5", "Chlamydia NAAT", "0", "index", "0", "1")],
        sensitivity="sexual-health",
    )
    make_note(tia, "Counselling session", sensitivity="mental-health", body="Talked about anxiety.")
    return tia, father


# Choosing ------------------------------------------------------------------------------------


def test_the_choice_page_offers_every_section_ticked_and_three_formats(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    page = client.get(reverse("record_export:choose")).content.decode()
    for title in SECTIONS.values():
        assert str(title) in page
    assert page.count('name="sections"') == len(SECTIONS)
    assert page.count("checked") >= len(SECTIONS)
    assert "Printable page" in page and "PDF" in page and "FHIR R4 JSON (for apps)" in page


def test_choosing_sends_to_the_format_with_the_choice_in_the_address(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    response = client.get(url("choose", ["results", "notes"], format="print", date_from="2024-01-01"))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("record_export:print")
    assert parse_qs(location.query) == {"sections": ["results", "notes"], "date_from": ["2024-01-01"]}


@pytest.mark.parametrize("kind", ["pdf", "fhir"])
def test_the_whole_record_as_a_file_goes_through_reauthentication(
    client: Client, record: World, kind: str
) -> None:
    client.force_login(record.alice_user)
    chosen = client.get(url("choose", format=kind))
    assert urlsplit(chosen["Location"]).path == reverse(f"record_export:{kind}_full")
    # Typed straight into the address bar, the partial view sends it on too.
    direct = client.get(url(kind))
    assert urlsplit(direct["Location"]).path == reverse(f"record_export:{kind}_full")
    asked = client.get(direct["Location"])
    assert asked.status_code == 302
    assert urlsplit(asked["Location"]).path == reverse("account_reauthenticate")
    # Brought back to the same download, with the choice intact.
    assert parse_qs(urlsplit(asked["Location"]).query)["next"] == [direct["Location"]]
    assert not AuditEvent.objects.filter(action__startswith="records.export").exists()


@pytest.mark.parametrize(
    "dates",
    [
        {"date_from": "1900-01-01"},
        {"date_to": "2999-12-31"},
        {"date_from": "1980-05-17", "date_to": "2999-01-01"},
    ],
)
def test_dates_around_the_patients_whole_life_are_still_the_whole_record(
    client: Client, record: World, dates: dict[str, str]
) -> None:
    client.force_login(record.alice_user)
    response = client.get(url("pdf", **dates))
    assert urlsplit(response["Location"]).path == reverse("record_export:pdf_full")
    assert parse_qs(urlsplit(response["Location"]).query)["sections"] == ALL
    # A real limit is part of the record: no confirmation needed.
    assert client.get(url("pdf", date_from="1980-05-18"))["Content-Type"] == "application/pdf"
    assert client.get(url("pdf", date_to="2020-01-01"))["Content-Type"] == "application/pdf"


def test_a_recently_confirmed_patient_downloads_the_whole_record_as_pdf(
    client: Client, record: World
) -> None:
    sign_in_recently(client, record.alice_user)
    response = client.get(url("pdf_full"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="health-record-10000001-')
    text = pdf_text(response.content)
    assert "Alice Able" in text and "10000001" in text
    assert "Glucose" in text and "98 mg/dL" in text
    assert "Lisinopril" in text and "Penicillin" in text and "Essential hypertension" in text
    assert "Held lipid panel" not in text and "Cholesterol" not in text
    assert "Page 1 of" in text


def test_part_of_the_record_downloads_without_reauthentication(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    response = client.get(url("pdf", ["results"]))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "Glucose" in text and "Potassium" in text and "5.4 mmol/L" in text and "High" in text
    assert "Lisinopril" not in text
    event = AuditEvent.objects.get(action="records.export_pdf")
    assert event.patient_id == record.alice.pk and event.actor_id == record.alice_user.pk
    assert event.detail == {"sections": ["results"], "date_from": None, "date_to": None}
    assert describe("records.export_pdf") == "downloaded your record as a PDF"


def test_a_date_range_keeps_only_what_happened_in_it(client: Client, record: World) -> None:
    make_panel(record.alice, "Old panel", when=dt.datetime(2019, 5, 1, 12, tzinfo=dt.UTC))
    client.force_login(record.alice_user)
    page = client.get(
        url("print", ["results"], date_from="2019-01-01", date_to="2019-12-31")
    ).content.decode()
    assert "Old panel" in page
    assert "Basic metabolic panel" not in page
    assert "1 January 2019 to 31 December 2019" in page or "Jan. 1, 2019 to Dec. 31, 2019" in page
    event = AuditEvent.objects.get(action="records.print")
    assert event.detail == {"sections": ["results"], "date_from": "2019-01-01", "date_to": "2019-12-31"}


# Printing ------------------------------------------------------------------------------------


def test_the_printable_page_shows_the_record_with_a_print_button(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    response = client.get(url("print"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Health record of Alice Able" in page and "10000001" in page
    assert "Use your browser's Print command" in page
    assert "data-print" in page and "js/record-export.js" in page
    assert "Glucose" in page and "98 mg/dL" in page and "Blood pressure follow-up" in page
    assert "Held lipid panel" not in page
    assert '<th scope="col">Test</th>' in page
    assert AuditEvent.objects.filter(action="records.print", patient_id=record.alice.pk).count() == 1


def test_the_printable_page_costs_the_same_with_five_or_fifty_rows(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    address = url("print")
    client.get(address)

    def add(start: int, stop: int) -> None:
        for number in range(start, stop):
            make_panel(
                world.alice, f"Panel {number}", values=[("2345-7", "Glucose", "98", "mg/dL", "70", "99")]
            )
            make_note(world.alice, f"Note {number}")

    add(0, 5)
    few = query_count(lambda: client.get(address))
    add(5, 50)
    many = query_count(lambda: client.get(address))
    assert few == many
    assert "Panel 49" in client.get(address).content.decode()


# FHIR ----------------------------------------------------------------------------------------


def test_the_fhir_download_is_a_bundle(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    response = client.get(url("fhir", ["results", "medications"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert response["Content-Disposition"].startswith("attachment;")
    bundle = json.loads(response.content)
    assert bundle["resourceType"] == "Bundle"
    text = response.content.decode()
    assert "Glucose" in text and "Lisinopril" in text
    assert "Cholesterol" not in text
    assert AuditEvent.objects.filter(action="records.export_fhir").count() == 1


def test_the_whole_record_in_fhir_after_reauthentication(client: Client, record: World) -> None:
    sign_in_recently(client, record.alice_user)
    response = client.get(url("fhir_full"))
    assert response.status_code == 200
    assert json.loads(response.content)["resourceType"] == "Bundle"


# Who may download ----------------------------------------------------------------------------


def test_a_proxy_with_view_access_downloads_part_but_confirms_for_the_whole(
    client: Client, record: World
) -> None:
    client.force_login(record.proxy_user)
    part = client.get(url("pdf", ["results"]))
    assert part.status_code == 200 and "Alice Able" in pdf_text(part.content)
    event = AuditEvent.objects.get(action="records.export_pdf")
    assert event.actor_id == record.proxy_user.pk and event.actor_role == "proxy"
    whole = client.get(url("pdf_full"))
    assert whole.status_code == 302 and urlsplit(whole["Location"]).path == reverse("account_reauthenticate")
    sign_in_recently(client, record.proxy_user)
    assert client.get(url("pdf_full")).status_code == 200


@pytest.mark.parametrize("name", ["choose", "print", "pdf", "pdf_full", "fhir"])
def test_a_proxy_without_view_access_gets_the_scope_page(client: Client, record: World, name: str) -> None:
    record.proxy_grant.scopes = [Scope.MESSAGE]
    record.proxy_grant.save()
    sign_in_recently(client, record.proxy_user)
    response = client.get(url(name, ["results"]))
    assert response.status_code == 403
    assert "This part of the account is not shared with you" in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="records.").exists()


def test_another_patient_only_ever_gets_their_own_record(client: Client, record: World) -> None:
    sign_in_recently(client, record.bob_user)
    page = client.get(url("print")).content.decode()
    assert "Bob Baker" in page and "Thyroid panel" in page
    assert "Alice" not in page and "Glucose" not in page
    text = pdf_text(client.get(url("pdf_full")).content)
    assert "Bob Baker" in text and "TSH" in text
    assert "Alice" not in text and "Glucose" not in text and "Lisinopril" not in text


@pytest.mark.parametrize("persona", ["clinician", "unassigned_staff"])
def test_staff_have_no_patient_side_download(client: Client, record: World, persona: str) -> None:
    client.force_login(record.persona(persona))
    for name in ("choose", "print", "pdf"):
        response = client.get(url(name, ["results"]))
        assert response.status_code == 302 and response["Location"] == reverse("staff:home")
    assert not AuditEvent.objects.filter(action__startswith="records.").exists()


@pytest.mark.parametrize("name", ["choose", "print", "pdf", "pdf_full", "fhir", "fhir_full"])
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, record: World, name: str) -> None:
    response = client.get(url(name, ["results"]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_a_parent_of_a_teenager_never_gets_her_confidential_care(client: Client, world: World) -> None:
    tia, father = teenager(world)
    sign_in_recently(client, father)
    text = pdf_text(client.get(url("pdf_full")).content)
    assert "Tia Able" in text and "Iron studies" in text
    assert "Chlamydia" not in text and "Counselling" not in text and "anxiety" not in text
    page = client.get(url("print")).content.decode()
    assert "Iron studies" in page and "Chlamydia" not in page and "Counselling" not in page
    bundle = client.get(url("fhir_full")).content.decode()
    assert "Iron" in bundle and "Chlamydia" not in bundle and "Counselling" not in bundle
    # Tia herself sees all of it.
    own = Client()
    sign_in_recently(own, tia.account)  # type: ignore[arg-type]
    own_text = pdf_text(own.get(url("pdf_full")).content)
    assert "Chlamydia" in own_text and "Counselling session" in own_text


# Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sections=results&date_from=yesterday", "Enter a real date"),
        ("sections=results&date_from=2024-13-45", "Enter a real date"),
        ("sections=results&date_from=99999-01-01", "Enter a real date"),
        ("sections=results&date_from=0001-01-01", "Enter a date between 1900 and 2999"),
        ("sections=results&date_from=2024-05-01&date_to=2024-04-01", "on or after the start date"),
        ("sections=secrets", "Choose sections from the list"),
        ("", "Choose at least one section"),
    ],
)
def test_bad_choices_come_back_with_a_clear_error(
    client: Client, record: World, query: str, message: str
) -> None:
    client.force_login(record.alice_user)
    chosen = client.get(reverse("record_export:choose") + "?format=print&" + query)
    assert chosen.status_code == 200 and message in chosen.content.decode()
    for name in ("print", "pdf", "fhir"):
        response = client.get(reverse(f"record_export:{name}") + "?" + query)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert "There is a problem" in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="records.").exists()


def test_an_unknown_format_on_the_choice_page_is_refused_clearly(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    response = client.get(reverse("record_export:choose") + "?format=zip&sections=results")
    assert response.status_code == 200
    assert "Choose a format from the list" in response.content.decode()


# The PDF itself ------------------------------------------------------------------------------


def test_names_in_any_script_never_break_the_pdf(world: World) -> None:
    world.alice.given_name, world.alice.family_name = "Zoë", "Łukasz 李"
    world.alice.save()
    make_panel(world.alice, "Glucose \u2013 fasting \u2265 8 h")  # en dash, greater-or-equal
    access = _self_access(world)
    export = gather(access, Selection.of(ALL, None, None))
    text = pdf_text(record_pdf_module.record_pdf(export))
    assert "Zoë" in text and "Łukasz" in text


def test_without_a_unicode_font_the_pdf_still_prints_every_name(world: World, monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf_document, "FONT_CANDIDATES", ())
    world.alice.given_name, world.alice.family_name = "Zoë", "Łukasz 李"
    world.alice.save()
    make_panel(world.alice, "Glucose \u2013 fasting \u2265 8 h")  # en dash, greater-or-equal
    export = gather(_self_access(world), Selection.of(ALL, None, None))
    text = pdf_text(record_pdf_module.record_pdf(export))
    assert "Zoë Lukasz ?" in text
    assert "Glucose - fasting >= 8 h" in text


def test_an_empty_record_prints_a_note_per_section(world: World) -> None:
    export = gather(_self_access(world), Selection.of(ALL, None, None))
    text = pdf_text(record_pdf_module.record_pdf(export))
    assert text.count("Nothing in this section for the dates chosen.") == len(SECTIONS)


def test_imaging_and_results_are_separate_sections(world: World) -> None:
    ResultReport.objects.create(
        patient=world.alice,
        name="Chest X-ray",
        category=ResultReport.Category.IMAGING,
        effective_at=days_ago(2),
        issued_at=days_ago(1),
        impression="No acute findings.",
    )
    make_panel(world.alice)
    export = gather(_self_access(world), Selection.of(["results", "imaging"], None, None))
    results, imaging = export.sections
    assert [block.heading.split(" — ")[0] for block in results.blocks] == ["Basic metabolic panel"]
    assert imaging.blocks[0].heading.startswith("Chest X-ray")
    assert ("Impression", "No acute findings.") in imaging.blocks[0].facts


def _self_access(world: World) -> Any:
    from portal.patients.access import decide

    return decide(world.alice_user, world.alice)


def test_a_selection_too_long_for_one_pdf_suggests_the_printable_page(
    client: Client, record: World, monkeypatch: Any
) -> None:
    monkeypatch.setattr(record_pdf_module, "MAX_PDF_LINES", 5)
    client.force_login(record.alice_user)
    response = client.get(url("pdf", ["results", "notes"]))
    page = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "That is too much for one PDF" in page
    assert not AuditEvent.objects.filter(action="records.export_pdf").exists()
    assert client.get(url("pdf", ["allergies"]))["Content-Type"] == "application/pdf"


def test_long_text_control_characters_and_unknown_scripts_never_break_the_pdf(world: World) -> None:
    make_note(world.alice, "Long 李 \x07 note", body=("word " * 2000) + "x" * 3000 + "\n\n\tend")
    make_medication(world.alice, "A" * 200, instructions="B" * 500)
    make_panel(world.alice, "P" * 200, values=[("1", "n" * 200, "1", "u" * 40, "0", "2")])
    export = gather(_self_access(world), Selection.of(["notes", "medications", "results"], None, None))
    text = pdf_text(record_pdf_module.record_pdf(export))
    assert "Long ?" in text and "end" in text
    assert "Active" in text  # a short column next to long ones keeps its words whole
