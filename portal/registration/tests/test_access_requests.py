from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.organization.models import Campus, OpeningHours
from portal.patients.models import Patient
from portal.registration.codes import code_hash
from portal.registration.models import AccessRequest, ActivationCode
from portal.registration.tests.personas import (
    make_international_office,
    make_newcomer,
    make_other_campus_desk,
    solved_challenge,
)
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db
REQUEST = reverse("registration:request_access")
INTERNATIONAL = reverse("registration:international")


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()


def _details(at: Campus | None, **changes: Any) -> dict[str, Any]:
    data = {
        "given_name": "Nina",
        "family_name": "Newman",
        "birth_date": "1990-03-04",
        "email": "nina@example.net",
        "phone": "507-555-0190",
        "address_line": "12 Elm Street",
        "city": "Rochester",
        "region": "MN",
        "postal_code": "55902",
        "clinic_number": "",
        "campus": str(at.pk) if at else "",
        "message": "I lost my letter.",
        **solved_challenge(),
    }
    data.update(changes)
    return data


def _make_request(kind: str, campus: Campus | None, **fields: Any) -> AccessRequest:
    values: dict[str, Any] = {
        "kind": kind,
        "given_name": "Nina",
        "family_name": "Newman",
        "birth_date": dt.date(1990, 3, 4),
        "email": "nina@example.net",
        "phone": "507-555-0190",
        "address_line": "12 Elm Street",
        "city": "Rochester",
        "campus": campus,
        **fields,
    }
    return AccessRequest.objects.create(**values)


def test_a_us_request_reaches_its_campus_desk_only(client: Client, world: World) -> None:
    response = client.post(REQUEST, _details(world.campus))
    assert response.status_code == 302
    assert response["Location"] == reverse("registration:request_sent") + "?kind=us"
    item = AccessRequest.objects.get()
    assert (item.kind, item.status, item.campus, item.country) == ("us", "new", world.campus, "US")
    event = AuditEvent.objects.get(action="access_request.submit")
    assert (event.outcome, event.actor_role, event.detail["kind"]) == ("success", "anonymous", "us")

    client.force_login(world.scheduler)
    assert "Newman, Nina" in client.get(reverse("registration_staff:queue")).content.decode()
    _other_campus, other_desk = make_other_campus_desk()
    _office, officer = make_international_office()
    for outsider in (other_desk, officer, world.clinician):
        client.force_login(outsider)
        assert "Newman, Nina" not in client.get(reverse("registration_staff:queue")).content.decode()


def test_an_international_request_reaches_the_international_office(client: Client, world: World) -> None:
    OpeningHours.objects.create(
        campus=world.campus,
        service=OpeningHours.Service.SCHEDULING,
        weekday=0,
        opens=dt.time(8),
        closes=dt.time(17),
    )
    world.campus.international_phone = "+1 507-555-0133"
    world.campus.save()
    office, officer = make_international_office()
    page = client.get(INTERNATIONAL).content.decode()
    assert office.phone in page and office.email in page
    assert "Monday" in page and "Central time" in page

    data = _details(
        None, country="United Kingdom", region="", postal_code="W1G 8PQ", phone="+44 20 7946 0000"
    )
    response = client.post(INTERNATIONAL, data)
    assert response.status_code == 302 and response["Location"].endswith("?kind=international")
    item = AccessRequest.objects.get()
    assert (item.kind, item.campus, item.country) == ("international", None, "United Kingdom")
    sent = client.get(response["Location"]).content.decode()
    assert "International office" in sent and office.phone in sent

    client.force_login(officer)
    assert "Newman, Nina" in client.get(reverse("registration_staff:queue")).content.decode()
    client.force_login(world.scheduler)
    assert "Newman, Nina" not in client.get(reverse("registration_staff:queue")).content.decode()


def test_bad_requests_are_explained_and_saved_nowhere(client: Client, world: World) -> None:
    today = timezone.now().date()
    for url, changes in (
        (REQUEST, {"campus": ""}),
        (REQUEST, {"campus": "999999"}),
        (REQUEST, {"birth_date": "yesterday"}),
        (REQUEST, {"birth_date": dt.date(today.year - 10, 1, 1).isoformat()}),
        (REQUEST, {"email": "nope"}),
        (REQUEST, {"message": "x" * 5000}),
        (INTERNATIONAL, {"country": ""}),
        (REQUEST, {"challenge_proof": "", "challenge_answer": ""}),
    ):
        response = client.post(url, _details(world.campus, **changes))
        assert response.status_code == 200, changes
        assert "There is a problem" in response.content.decode()
    under_age = client.post(
        REQUEST, _details(world.campus, birth_date=dt.date(today.year - 10, 1, 1).isoformat())
    )
    assert "Ask a parent or guardian to request proxy access" in under_age.content.decode()
    assert not AccessRequest.objects.exists()


def test_the_honeypot_pretends_to_succeed(client: Client, world: World) -> None:
    response = client.post(REQUEST, _details(world.campus, website="http://spam.example"))
    assert response.status_code == 302 and "request/sent" in response["Location"]
    assert not AccessRequest.objects.exists()
    event = AuditEvent.objects.get(action="access_request.submit")
    assert (event.outcome, event.detail) == ("failure", {"reason": "honeypot"})


@override_settings(PORTAL_REGISTRATION_ATTEMPTS_PER_ADDRESS=2)
def test_requests_are_limited_per_address(client: Client, world: World) -> None:
    for _attempt in range(2):
        assert client.post(REQUEST, _details(world.campus)).status_code == 302
    assert client.post(REQUEST, _details(world.campus)).status_code == 429
    assert AccessRequest.objects.count() == 2


def test_staff_match_a_request_and_email_a_code(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    newcomer = make_newcomer(world)
    item = _make_request(AccessRequest.Kind.US, world.campus, language="es")
    client.force_login(world.scheduler)
    page = client.get(reverse("registration_staff:request", args=[item.pk])).content.decode()
    assert "10000042" in page  # the default search found the patient by name and birth date

    response = client.post(reverse("registration_staff:match", args=[item.pk]), {"patient": newcomer.pk})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.matched_patient, item.handled_by) == ("matched", newcomer, world.scheduler)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("registration_staff:send_code", args=[item.pk]))
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "code_issued" and item.activation_code is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nina@example.net"] and "10000042" in message.body
    code = next(word for word in message.body.split() if word.count("-") == 2 and len(word) == 14)
    assert ActivationCode.objects.get(code_hash=code_hash(code)) == item.activation_code
    assert "código" in message.subject.lower() or "activation" in message.subject.lower()
    actions = list(AuditEvent.objects.filter(patient_id=newcomer.pk).values_list("action", flat=True))
    assert actions[-3:] == ["access_request.match", "activation_code.issue", "access_request.send_code"]

    # Done is done: no second code for the same request.
    client.post(reverse("registration_staff:send_code", args=[item.pk]))
    assert ActivationCode.objects.count() == 1


def test_staff_decline_a_request_with_a_reason_the_requester_reads(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = _make_request(AccessRequest.Kind.US, world.campus)
    client.force_login(world.scheduler)
    empty = client.post(reverse("registration_staff:decline", args=[item.pk]), {"reason": ""})
    assert empty.status_code == 200 and "There is a problem" in empty.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("registration_staff:decline", args=[item.pk]),
            {"reason": "We could not find your record. Please call us with photo ID."},
        )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "declined"
    assert "Please call us with photo ID." in mail.outbox[0].body
    assert "507-555-0101" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="access_request.decline", actor_id=world.scheduler.pk).exists()


def test_a_request_cannot_be_matched_to_a_patient_out_of_reach(client: Client, world: World) -> None:
    # A clinician on the desk of another campus... is not on this request's desk at all;
    # and a desk member may not match to a patient through a forged id.
    item = _make_request(AccessRequest.Kind.US, world.campus)
    client.force_login(world.scheduler)
    response = client.post(reverse("registration_staff:match", args=[item.pk]), {"patient": "987654"})
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.status == "new" and item.matched_patient is None


def _call(client: Client, url: str, data: dict[str, Any] | None) -> Any:
    return client.get(url) if data is None else client.post(url, data)


@pytest.mark.parametrize(
    "persona", ["patient", "proxy", "other_patient", "unassigned_staff", "clinician", "admin"]
)
def test_others_cannot_reach_the_queue(client: Client, world: World, persona: str) -> None:
    newcomer = make_newcomer(world)
    item = _make_request(AccessRequest.Kind.US, world.campus)
    client.force_login(world.persona(persona))
    for name, data in (
        ("request", None),
        ("match", {"patient": newcomer.pk}),
        ("send_code", {}),
        ("decline", {"reason": "No."}),
    ):
        foreign = _call(client, reverse(f"registration_staff:{name}", args=[item.pk]), data)
        missing = _call(client, reverse(f"registration_staff:{name}", args=[987654]), data)
        assert_same_as_missing(foreign, missing)
    queue = client.get(reverse("registration_staff:queue"))
    assert queue.status_code == 404 or "Newman" not in queue.content.decode()
    item.refresh_from_db()
    assert (item.status, item.matched_patient) == ("new", None)
    assert not ActivationCode.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World) -> None:
    item = _make_request(AccessRequest.Kind.US, world.campus)
    for name in ("queue", "request", "match", "send_code", "decline"):
        args = [] if name == "queue" else [item.pk]
        response = client.post(reverse(f"registration_staff:{name}", args=args), {"reason": "x"})
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    item.refresh_from_db()
    assert item.status == "new"


def test_the_queue_runs_a_fixed_number_of_queries(client: Client, world: World) -> None:
    client.force_login(world.scheduler)
    url = reverse("registration_staff:queue")
    _make_request(AccessRequest.Kind.US, world.campus)
    client.get(url)  # the first request of a session also records the session
    few = query_count(lambda: client.get(url))
    for number in range(40):
        _make_request(AccessRequest.Kind.US, world.campus, family_name=f"Newman{number}")
    many = query_count(lambda: client.get(url))
    assert many == few
    page = client.get(url).content.decode()
    assert page.count("/staff/registration/requests/") == 25 and "Older requests" in page


def test_the_request_page_runs_a_fixed_number_of_queries(client: Client, world: World) -> None:
    client.force_login(world.scheduler)
    item = _make_request(AccessRequest.Kind.US, world.campus)
    url = reverse("registration_staff:request", args=[item.pk])
    make_newcomer(world)
    client.get(url)  # the first request of a session also records the session
    few = query_count(lambda: client.get(url))
    for number in range(10):
        Patient.objects.create(
            clinic_number=f"3000000{number}",
            given_name="Nina",
            family_name="Newman",
            birth_date=dt.date(1990, 3, 4),
            sex_at_birth=Patient.Sex.FEMALE,
            primary_campus=world.campus,
        )
    assert query_count(lambda: client.get(url)) == few


@pytest.mark.parametrize(
    "query",
    [
        {"status": "nonsense"},
        {"before": "99999999999999999999999"},
        {"before": "-1"},
        {"before": "abc", "status": "declined"},
    ],
)
def test_odd_queue_addresses_still_answer(client: Client, world: World, query: dict[str, str]) -> None:
    _make_request(AccessRequest.Kind.US, world.campus)
    client.force_login(world.scheduler)
    assert client.get(reverse("registration_staff:queue"), query).status_code == 200


def test_odd_input_never_breaks_the_public_forms(client: Client, world: World) -> None:
    odd = {name: "\x00" for name in _details(world.campus)}
    for url in (REQUEST, INTERNATIONAL, reverse("registration:create_account")):
        assert client.post(url, odd).status_code == 200
        assert client.post(url, {}).status_code == 200
        assert client.post(url, {"birth_date": "99999-99-99", "campus": "x" * 1000}).status_code == 200
    assert not AccessRequest.objects.exists()
