"""The record's stored files as DocumentReference, and their content as Binary (JSON or the file itself)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.fhir import codes
from portal.fhir.tests.test_api_gaps_capability import fetch, found, ids, refused, valid, walk
from portal.patients.models import Patient, Scope
from portal.records.models import ClinicalNote, Document, Encounter
from portal.records.tests.support import make_note, make_visit
from portal.smart.tests.support import issue_token
from portal.test import World, query_count

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def make_file(patient: Patient, title: str, day: dt.date, content: bytes = PDF, **fields: Any) -> Document:
    content_type = "application/pdf" if content.startswith(b"%PDF") else "image/png"
    document = Document(
        patient=patient,
        title=title,
        kind=fields.pop("kind", Document.Kind.LETTER),
        dated_on=day,
        content_type=content_type,
        size=len(content),
        sha256="0" * 64,
        **fields,
    )
    suffix = "pdf" if content_type == "application/pdf" else "png"
    document.file.save(f"upload.{suffix}", ContentFile(content), save=True)
    return document


def noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)), timezone.get_fixed_timezone(-360))


@pytest.fixture
def files(world: World) -> dict[str, Any]:
    start = dt.date(2025, 3, 1)
    visit = make_visit(world.alice, campus=world.campus, started_at=noon(start), ended_at=noon(start))
    letter = make_file(world.alice, "Cardiology letter", start + dt.timedelta(days=1), encounter=visit)
    scan = make_file(world.alice, "Rash photo", start + dt.timedelta(days=3), PNG, kind=Document.Kind.OTHER)
    form = make_file(world.alice, "School form", start + dt.timedelta(days=5), kind=Document.Kind.FORM)
    notes = [
        make_note(world.alice, f"Note {day}", written_at=noon(start + dt.timedelta(days=day)))
        for day in (0, 2, 4)
    ]
    bobs = make_file(world.bob, "Bob's letter", start)
    return {"visit": visit, "letter": letter, "scan": scan, "form": form, "notes": notes, "bobs": bobs}


def alice(world: World) -> str:
    return issue_token(world.alice_user, world.alice)


def test_a_stored_file_is_a_us_core_document_reference(world: World, files: dict[str, Any]) -> None:
    letter: Document = files["letter"]
    data = valid(fetch(alice(world), f"DocumentReference/document-{letter.pk}"))
    assert data["meta"]["profile"] == [codes.US_CORE + "us-core-documentreference"]
    assert data["status"] == "current" and data["subject"] == {
        "reference": f"Patient/patient-{world.alice.pk}"
    }
    assert {coding["code"] for coding in data["type"]["coding"]} == {"51852-2", "letter"}
    assert data["category"][0]["coding"][0]["code"] == "clinical-note"
    assert data["date"].startswith("2025-03-02T00:00:00")
    (content,) = data["content"]
    assert content["attachment"] == {
        "contentType": "application/pdf",
        "url": f"Binary/document-{letter.pk}",
        "title": "Cardiology letter",
        "size": len(PDF),
    }
    assert content["format"]["code"] == "urn:ihe:iti:xds:2017:mimeTypeSufficient"
    visit: Encounter = files["visit"]
    assert data["context"]["encounter"] == [{"reference": f"Encounter/encounter-{visit.pk}"}]
    assert data["context"]["period"]["start"].startswith("2025-03-01T")


def test_the_search_merges_notes_and_files_by_date_both_ways(world: World, files: dict[str, Any]) -> None:
    token = alice(world)
    expected = [
        f"DocumentReference/document-{files['form'].pk}",
        f"DocumentReference/clinicalnote-{files['notes'][2].pk}",
        f"DocumentReference/document-{files['scan'].pk}",
        f"DocumentReference/clinicalnote-{files['notes'][1].pk}",
        f"DocumentReference/document-{files['letter'].pk}",
        f"DocumentReference/clinicalnote-{files['notes'][0].pk}",
    ]
    newest_first = walk(token, "DocumentReference?_count=2")
    assert [f"DocumentReference/{r['id']}" for r in newest_first] == expected
    oldest_first = walk(token, "DocumentReference?_count=4&_sort=date")
    assert [f"DocumentReference/{r['id']}" for r in oldest_first] == expected[::-1]
    # From the last page, the previous links lead back through the same pages.
    page = valid(fetch(token, "DocumentReference?_count=2"))
    pages = [found(page)]
    while any(link["relation"] == "next" for link in page["link"]):
        url = next(link["url"] for link in page["link"] if link["relation"] == "next")
        page = valid(fetch(token, url.split("/fhir/r4/", 1)[1]))
        pages.append(found(page))
    back: list[list[dict[str, Any]]] = []
    while any(link["relation"] == "previous" for link in page["link"]):
        url = next(link["url"] for link in page["link"] if link["relation"] == "previous")
        page = valid(fetch(token, url.split("/fhir/r4/", 1)[1]))
        back.append(found(page))
    assert [ids(p) for p in back] == [ids(p) for p in pages[-2::-1]]


def test_same_day_files_page_one_at_a_time_without_loss(world: World, files: dict[str, Any]) -> None:
    day = files["form"].dated_on
    twins = [make_file(world.alice, f"Twin {n}", day) for n in range(3)]
    seen = [r["id"] for r in walk(alice(world), "DocumentReference?_count=1")]
    assert len(seen) == len(set(seen)) == 9
    assert {f"document-{twin.pk}" for twin in twins} <= set(seen)


def test_search_parameters_reach_the_files(world: World, files: dict[str, Any]) -> None:
    token = alice(world)

    def hits(query: str) -> set[str]:
        return ids(found(valid(fetch(token, f"DocumentReference?{query}"))))

    letter, scan, form = (f"DocumentReference/document-{files[key].pk}" for key in ("letter", "scan", "form"))
    assert hits("type=http://loinc.org|51852-2") >= {letter}
    assert letter not in hits("type=urn:portal:document-kind|form") and form in hits(
        "type=urn:portal:document-kind|form"
    )
    assert hits("date=2025-03-04") == {scan}
    assert hits("date=ge2025-03-06") == {form}
    assert {letter, scan, form} <= hits("status=current")
    assert not {letter, scan, form} & hits("status=entered-in-error")
    assert {letter, scan, form} <= hits("category=clinical-note")
    assert hits(f"_id=document-{files['scan'].pk}") == {scan}
    assert hits(f"patient=Patient/patient-{world.alice.pk}&_id=document-{files['scan'].pk}") == {scan}
    assert hits(f"patient=Patient/patient-{world.bob.pk}") == set()


def test_binary_as_fhir_json(world: World, files: dict[str, Any]) -> None:
    scan: Document = files["scan"]
    response = fetch(alice(world), f"Binary/document-{scan.pk}", accept="application/fhir+json")
    data = valid(response)
    assert data["contentType"] == "image/png" and base64.b64decode(data["data"]) == PNG
    assert data["securityContext"] == {"reference": f"DocumentReference/document-{scan.pk}"}
    assert response["Cache-Control"] == "no-store"
    same = valid(fetch(alice(world), f"Binary/document-{scan.pk}?_format=json", accept="*/*"))
    assert same["data"] == data["data"]


@pytest.mark.parametrize("accept", [None, "*/*", "application/pdf", "application/*", "text/html,*/*;q=0.8"])
def test_binary_as_the_file_itself(world: World, files: dict[str, Any], accept: str | None) -> None:
    letter: Document = files["letter"]
    headers = {"accept": accept} if accept else {}
    response = fetch(alice(world), f"Binary/document-{letter.pk}", **headers)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="cardiology-letter-2025-03-02.pdf"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store, private"
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_note_binary_is_its_text(world: World, files: dict[str, Any]) -> None:
    note: ClinicalNote = files["notes"][0]
    response = fetch(alice(world), f"Binary/clinicalnote-{note.pk}", accept="text/plain")
    assert b"".join(response.streaming_content) == note.body.encode()
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    data = valid(fetch(alice(world), f"Binary/clinicalnote-{note.pk}", accept="application/fhir+json"))
    assert base64.b64decode(data["data"]) == note.body.encode()


def test_binary_negotiation_refusals(world: World, files: dict[str, Any]) -> None:
    token, letter = alice(world), files["letter"]
    refused(fetch(token, f"Binary/document-{letter.pk}", accept="image/png"), 406)
    refused(fetch(token, f"Binary/document-{letter.pk}", accept="application/fhir+xml"), 406)
    refused(fetch(token, f"Binary/document-{letter.pk}?_format=xml"), 406)
    refused(fetch(token, "Binary"), 405)
    refused(fetch(token, f"Binary?_id=document-{letter.pk}"), 405)
    refused(fetch(token, "Binary/document-999999", accept="*/*"), 404)
    refused(fetch(token, "Binary/nonsense", accept="*/*"), 404)


def test_every_binary_read_is_audited(world: World, files: dict[str, Any]) -> None:
    token, letter = alice(world), files["letter"]
    before = AuditEvent.objects.filter(action="fhir.read").count()
    b"".join(fetch(token, f"Binary/document-{letter.pk}").streaming_content)
    valid(fetch(token, f"Binary/document-{letter.pk}", accept="application/fhir+json"))
    events = list(AuditEvent.objects.filter(action="fhir.read").order_by("sequence"))[before:]
    assert [(e.object_type, e.object_id, e.detail["resource"]) for e in events] == [
        ("records.document", str(letter.pk), "Binary")
    ] * 2
    assert all(e.patient_id == world.alice.pk and e.actor_id == world.alice_user.pk for e in events)


def test_a_missing_file_is_404_but_its_reference_stays(world: World, files: dict[str, Any]) -> None:
    token, letter = alice(world), files["letter"]
    letter.file.delete(save=False)
    refused(fetch(token, f"Binary/document-{letter.pk}"), 404)
    refused(fetch(token, f"Binary/document-{letter.pk}", accept="application/fhir+json"), 404)
    valid(fetch(token, f"DocumentReference/document-{letter.pk}"))


def test_another_patients_token_and_no_token(world: World, files: dict[str, Any]) -> None:
    bob = issue_token(world.bob_user, world.bob)
    letter = files["letter"]
    for path in (f"DocumentReference/document-{letter.pk}", f"Binary/document-{letter.pk}"):
        theirs = refused(fetch(bob, path, accept="application/fhir+json"), 404)
        missing = refused(
            fetch(bob, path.replace(str(letter.pk), "999999"), accept="application/fhir+json"), 404
        )
        assert theirs["issue"][0]["code"] == missing["issue"][0]["code"] == "not-found"
        refused(fetch(bob, path, accept="*/*"), 404)
        refused(fetch(None, path, accept="*/*"), 401)
    mine = ids(found(valid(fetch(bob, "DocumentReference"))))
    assert mine == {f"DocumentReference/document-{files['bobs'].pk}"}
    assert b"".join(fetch(bob, f"Binary/document-{files['bobs'].pk}").streaming_content) == PDF


def test_a_proxy_with_and_without_the_scope(world: World, files: dict[str, Any]) -> None:
    letter = files["letter"]
    proxy = issue_token(world.proxy_user, world.alice)
    valid(fetch(proxy, f"DocumentReference/document-{letter.pk}"))
    assert b"".join(fetch(proxy, f"Binary/document-{letter.pk}").streaming_content) == PDF
    narrow = issue_token(world.proxy_user, world.alice, "launch/patient patient/DocumentReference.rs")
    valid(fetch(narrow, "DocumentReference"))
    refused(fetch(narrow, f"Binary/document-{letter.pk}"), 403)
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    refused(fetch(proxy, f"Binary/document-{letter.pk}"), 401)


def test_a_confidential_file_is_hidden_from_a_teens_parent(world: World, files: dict[str, Any]) -> None:
    world.alice.birth_date = timezone.localdate().replace(year=timezone.localdate().year - 15, month=1, day=2)
    world.alice.save(update_fields=["birth_date"])
    world.proxy_grant.relationship = "parent"
    world.proxy_grant.save(update_fields=["relationship"])
    secret = make_file(world.alice, "Clinic letter", dt.date(2025, 5, 1), sensitivity="sexual-health")
    parent = issue_token(world.proxy_user, world.alice)
    refused(fetch(parent, f"DocumentReference/document-{secret.pk}"), 404)
    refused(fetch(parent, f"Binary/document-{secret.pk}"), 404)
    assert f"DocumentReference/document-{secret.pk}" not in ids(walk(parent, "DocumentReference"))
    everything = walk(parent, f"Patient/patient-{world.alice.pk}/$everything")
    assert f"DocumentReference/document-{secret.pk}" not in ids(everything)
    own = alice(world)
    data = valid(fetch(own, f"DocumentReference/document-{secret.pk}"))
    assert data["meta"]["security"][0]["code"]
    assert b"".join(fetch(own, f"Binary/document-{secret.pk}").streaming_content) == PDF


def test_everything_lists_files_and_notes_but_no_binary(world: World, files: dict[str, Any]) -> None:
    listed = ids(walk(alice(world), f"Patient/patient-{world.alice.pk}/$everything?_count=3"))
    assert {f"DocumentReference/document-{files[key].pk}" for key in ("letter", "scan", "form")} <= listed
    assert {f"DocumentReference/clinicalnote-{note.pk}" for note in files["notes"]} <= listed
    assert not any(name.startswith("Binary/") for name in listed)
    assert f"DocumentReference/document-{files['bobs'].pk}" not in listed


def test_the_note_author_is_a_practitioner_and_an_include(world: World, files: dict[str, Any]) -> None:
    carol = world.clinician.practitioner
    note = make_note(world.alice, "Signed note", author=carol, author_name="Carol Staff, MD")
    data = valid(
        fetch(alice(world), f"DocumentReference?_id=clinicalnote-{note.pk}&_include=DocumentReference:author")
    )
    (match,) = found(data)
    assert match["author"] == [
        {"reference": f"Practitioner/practitioner-{carol.pk}", "display": "Carol Staff, MD"}
    ]
    assert ids(found(data, "include")) == {f"Practitioner/practitioner-{carol.pk}"}


def test_a_page_of_documents_costs_the_same_whatever_the_count(world: World, files: dict[str, Any]) -> None:
    token = alice(world)
    valid(fetch(token, "Patient"))
    small = query_count(lambda: valid(fetch(token, "DocumentReference?_include=DocumentReference:author")))
    for n in range(12):
        make_file(world.alice, f"More {n}", dt.date(2024, 1, 1) + dt.timedelta(days=n))
        make_note(world.alice, f"More note {n}", author=world.clinician.practitioner)
    # The one query more is the include's: the first page had no authored note to include.
    assert (
        query_count(lambda: valid(fetch(token, "DocumentReference?_include=DocumentReference:author")))
        <= small + 1
    )
