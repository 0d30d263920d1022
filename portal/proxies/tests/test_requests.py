"""A parent asks for a child's record; staff approve or decline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.patients import access
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.patients.tests.support import sign_in_recently
from portal.proxies.models import ProxyDocument, ProxyRequest
from portal.proxies.tests.conftest import PNG, pdf, request_data
from portal.test import World, assert_same_as_missing, make_user, query_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def parent(world: World) -> Any:
    """A parent with a portal account but no record of their own."""
    return make_user("parent", first_name="Dana", last_name="Able")


def _ask(client: Client, child: Patient, **overrides: Any) -> Any:
    return client.post(reverse("proxies:request_access"), request_data(child, **overrides))


def _pending(parent: Any, child: Patient) -> ProxyRequest:
    client = Client()
    client.force_login(parent)
    _ask(client, child)
    return ProxyRequest.objects.get(requester=parent)


def test_a_parent_asks_for_a_childs_record(
    client: Client, world: World, parent: Any, child: Patient, _media_in_tmp: Path
) -> None:
    client.force_login(parent)
    response = _ask(client, child)
    assert response.status_code == 302
    assert response["Location"] == reverse("proxies:my_requests")
    request = ProxyRequest.objects.get()
    assert request.patient == child
    assert request.status == ProxyRequest.Status.PENDING
    document = request.document
    assert document.content_type == "application/pdf"
    assert document.original_name == "birth-certificate.pdf"
    stored = _media_in_tmp / document.file.name
    assert "birth-certificate" not in stored.name and stored.suffix == ".pdf"
    # Encrypted at rest (portal/lib/crypto); the document opens as the PDF that was sent.
    assert stored.read_bytes().startswith(b"fe1:")
    with document.file.open("rb") as stream:
        assert stream.read().startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="proxy.request", patient=child.pk).exists()
    assert access.decide(parent, child) is None  # nothing until staff approve


def test_details_that_match_nobody_get_the_same_answer(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    client.force_login(parent)
    matched = _ask(client, child)
    unmatched = _ask(client, child, clinic_number="99999999")
    assert unmatched.status_code == matched.status_code == 302
    assert unmatched["Location"] == matched["Location"]
    assert ProxyRequest.objects.get(clinic_number="99999999").patient is None


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("letter.pdf", b"MZ\x90\x00 not a pdf at all", "application/pdf"),
        ("photo.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),
        ("scan.png", b"GIF89a\x01\x00\x01\x00", "image/png"),
        ("empty.pdf", b"", "application/pdf"),
    ],
)
def test_uploads_are_checked_by_content(
    client: Client, world: World, parent: Any, child: Patient, name: str, content: bytes, content_type: str
) -> None:
    client.force_login(parent)
    response = _ask(client, child, document=SimpleUploadedFile(name, content, content_type=content_type))
    assert response.status_code == 200
    assert b"There is a problem" in response.content
    assert not ProxyRequest.objects.exists()
    assert not ProxyDocument.objects.exists()


def test_a_png_is_accepted_whatever_it_is_called(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    client.force_login(parent)
    _ask(client, child, document=SimpleUploadedFile("scan.pdf", PNG, content_type="application/pdf"))
    document = ProxyDocument.objects.get()
    assert document.content_type == "image/png"
    assert document.file.name.endswith(".png")


def test_an_upload_over_the_limit_is_refused(
    client: Client, world: World, parent: Any, child: Patient, settings: Any
) -> None:
    settings.PORTAL_PROXY_DOCUMENT_MAX_BYTES = 50
    client.force_login(parent)
    response = _ask(client, child)
    assert "too large" in response.content.decode()
    assert not ProxyRequest.objects.exists()


def test_an_adult_cannot_be_asked_for(client: Client, world: World, parent: Any) -> None:
    client.force_login(parent)
    response = _ask(client, world.alice)
    assert "children under 18" in response.content.decode()
    assert not ProxyRequest.objects.exists()


def test_the_same_request_is_not_sent_twice(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    client.force_login(parent)
    _ask(client, child)
    response = _ask(client, child)
    assert response.status_code == 200
    assert ProxyRequest.objects.count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World, child: Patient) -> None:
    response = _ask(client, child)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert not ProxyRequest.objects.exists()


def test_the_care_team_approves_and_the_parent_gets_every_scope_until_18(
    client: Client, world: World, parent: Any, child: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    proxy_request = _pending(parent, child)
    sign_in_recently(client, world.clinician)
    queue = client.get(reverse("proxies:staff_queue"))
    assert "Mia Able" in queue.content.decode()
    page = client.get(reverse("proxies:staff_request", args=[proxy_request.pk]))
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("proxies:staff_request", args=[proxy_request.pk]), {"answer": "approve"}
        )
    assert response.status_code == 302
    proxy_request.refresh_from_db()
    assert proxy_request.status == ProxyRequest.Status.APPROVED
    grant = proxy_request.grant
    assert grant is not None
    assert grant.grantee == parent and grant.relationship == ProxyGrant.Relationship.PARENT
    assert grant.scope_set == set(Scope.values)
    assert grant.expires_at is not None and grant.expires_at.date().year == child.birth_date.year + 18
    assert proxy_request.document.grant == grant
    decided = access.decide(parent, child)
    assert decided is not None and decided.hidden_categories == frozenset()
    assert [message.to for message in mail.outbox] == [[parent.email]]
    assert "You can now act for Mia Able" in mail.outbox[0].subject


def test_staff_decline_with_a_reason_the_parent_is_told(
    client: Client, world: World, parent: Any, child: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    proxy_request = _pending(parent, child)
    sign_in_recently(client, world.clinician)
    url = reverse("proxies:staff_request", args=[proxy_request.pk])
    short = client.post(url, {"answer": "decline", "reason": "no"})
    assert short.status_code == 200 and b"There is a problem" in short.content
    proxy_request.refresh_from_db()
    assert proxy_request.status == ProxyRequest.Status.PENDING
    reason = "The document does not show that you are the parent or guardian."
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"answer": "decline", "reason": reason})
    proxy_request.refresh_from_db()
    assert proxy_request.status == ProxyRequest.Status.DECLINED
    assert reason in mail.outbox[0].body
    parent_client = Client()
    parent_client.force_login(parent)
    assert reason in parent_client.get(reverse("proxies:my_requests")).content.decode()
    assert not ProxyGrant.objects.filter(grantee=parent).exists()


@pytest.mark.parametrize("persona", ["patient", "proxy", "other_patient", "unassigned_staff", "admin"])
def test_nobody_else_reaches_the_request(
    client: Client, world: World, parent: Any, child: Patient, persona: str
) -> None:
    proxy_request = _pending(parent, child)
    sign_in_recently(client, world.persona(persona))
    for name in ["staff_request", "staff_document"]:
        target = proxy_request.pk if name == "staff_request" else proxy_request.document_id
        response = client.get(reverse(f"proxies:{name}", args=[target]))
        missing = client.get(reverse(f"proxies:{name}", args=[999999]))
        assert_same_as_missing(response, missing)
    approve = client.post(reverse("proxies:staff_request", args=[proxy_request.pk]), {"answer": "approve"})
    assert approve.status_code == 404
    assert "Mia" not in client.get(reverse("proxies:staff_queue")).content.decode()
    proxy_request.refresh_from_db()
    assert proxy_request.status == ProxyRequest.Status.PENDING
    assert not ProxyGrant.objects.filter(grantee=parent).exists()


def test_anonymous_visitors_cannot_reach_the_queue(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    proxy_request = _pending(parent, child)
    for url in [
        reverse("proxies:staff_queue"),
        reverse("proxies:staff_request", args=[proxy_request.pk]),
        reverse("proxies:staff_document", args=[proxy_request.document_id]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and reverse("account_login") in response["Location"]
    client.post(reverse("proxies:staff_request", args=[proxy_request.pk]), {"answer": "approve"})
    proxy_request.refresh_from_db()
    assert proxy_request.status == ProxyRequest.Status.PENDING


def test_the_care_team_downloads_the_document_and_the_read_is_audited(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    proxy_request = _pending(parent, child)
    client.force_login(world.clinician)
    response = client.get(reverse("proxies:staff_document", args=[proxy_request.document_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF-")
    event = AuditEvent.objects.get(action="proxy.document_view")
    assert event.actor_id == world.clinician.pk and event.patient_id == child.pk


def test_a_request_matching_nobody_goes_to_the_offices(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    client.force_login(parent)
    _ask(client, child, clinic_number="99999999")
    unmatched = ProxyRequest.objects.get()
    client.force_login(world.clinician)
    assert client.get(reverse("proxies:staff_request", args=[unmatched.pk])).status_code == 404
    client.force_login(world.scheduler)
    assert "No match" in client.get(reverse("proxies:staff_queue")).content.decode()
    page = client.get(reverse("proxies:staff_request", args=[unmatched.pk]))
    assert page.status_code == 200
    assert b"Approve request" not in page.content
    # Its document belongs to no patient, so nobody can download it.
    assert client.get(reverse("proxies:staff_document", args=[unmatched.document_id])).status_code == 404


def test_an_approval_for_someone_who_has_come_of_age_is_refused(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    proxy_request = _pending(parent, child)
    Patient.objects.filter(pk=child.pk).update(birth_date=world.alice.birth_date)
    sign_in_recently(client, world.clinician)
    response = client.post(
        reverse("proxies:staff_request", args=[proxy_request.pk]), {"answer": "approve"}, follow=True
    )
    assert "is an adult" in response.content.decode()
    assert not ProxyGrant.objects.filter(grantee=parent).exists()


def test_approving_needs_a_recent_sign_in(client: Client, world: World, parent: Any, child: Patient) -> None:
    proxy_request = _pending(parent, child)
    client.force_login(world.clinician)
    response = client.post(reverse("proxies:staff_request", args=[proxy_request.pk]), {"answer": "approve"})
    assert response.status_code == 302
    assert reverse("account_reauthenticate") in response["Location"]
    proxy_request.refresh_from_db()
    assert proxy_request.status == ProxyRequest.Status.PENDING


def test_the_queue_runs_a_fixed_number_of_queries(client: Client, world: World, child: Patient) -> None:
    client.force_login(world.clinician)
    url = reverse("proxies:staff_queue")

    def add_requests(count: int) -> None:
        for index in range(count):
            parent = make_user(f"parent{ProxyRequest.objects.count()}-{index}")
            _pending(parent, child)

    add_requests(1)
    client.get(url)  # the first request of a session also records the session
    one = query_count(lambda: client.get(url))
    add_requests(4)
    five = query_count(lambda: client.get(url))
    assert five == one


def test_a_parent_sees_their_own_requests_only(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    _pending(parent, child)
    client.force_login(world.bob_user)
    assert "Mia" not in client.get(reverse("proxies:my_requests")).content.decode()
    client.force_login(parent)
    assert "Mia Able" in client.get(reverse("proxies:my_requests")).content.decode()


def test_a_user_with_no_record_is_pointed_to_the_request_form(
    client: Client, world: World, parent: Any
) -> None:
    client.force_login(parent)
    page = client.get(reverse("home")).content.decode()
    assert reverse("proxies:request_access") in page


def test_a_bad_upload_does_not_reach_the_disk(
    client: Client, world: World, parent: Any, child: Patient, _media_in_tmp: Path
) -> None:
    client.force_login(parent)
    _ask(client, child, document=SimpleUploadedFile("x.pdf", b"#!/bin/sh\nrm -rf /\n"))
    assert not _media_in_tmp.exists() or not any(_media_in_tmp.rglob("*.*"))
    _ask(client, child, document=pdf())
    assert len(list(_media_in_tmp.rglob("*.pdf"))) == 1


def test_my_requests_runs_a_fixed_number_of_queries(
    client: Client, world: World, parent: Any, child: Patient
) -> None:
    client.force_login(parent)
    url = reverse("proxies:my_requests")
    _ask(client, child)
    client.get(url)
    one = query_count(lambda: client.get(url))
    for number in ["99999991", "99999992", "99999993"]:
        _ask(client, child, clinic_number=number)
    assert query_count(lambda: client.get(url)) == one
