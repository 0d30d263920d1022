"""Share links: made, opened (with and without a passcode), logged, revoked and expired."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.patients.access import decide
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.patients.selection import SESSION_KEY
from portal.patients.tests.support import sign_in_recently
from portal.records import share_phrases  # noqa: F401  (until apps.py imports it)
from portal.records.export import Selection
from portal.records.models import ShareLink, ShareLinkOpen
from portal.records.sharing import WRONG_PASSCODES_ALLOWED, do_create_share_link
from portal.records.tests.support import days_ago, make_medication, make_note, make_panel
from portal.test import World, assert_same_as_missing, make_patient, make_user, query_count

pytestmark = pytest.mark.django_db

NOT_VALID = "This link is not valid (it may have expired or been revoked)"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Wrong-passcode counts live in the cache, which outlives each test's database.
    cache.clear()


@pytest.fixture
def record(world: World) -> World:
    make_panel(world.alice)
    make_panel(
        world.alice,
        "Held lipid panel",
        values=[("2093-3", "Cholesterol", "240", "mg/dL", "0", "200")],
        available_at=days_ago(-2),
    )
    make_medication(world.alice)
    make_note(world.alice, "Blood pressure follow-up")
    return world


def new_link_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "recipient": "Dr Lee, Boston cardiology",
        "sections": ["results", "medications"],
        "date_from": "",
        "date_to": "",
        "expires_in": "7",
        "passcode": "",
    }
    data.update(overrides)
    return data


def make_link(
    world: World, passcode: str = "", sections: tuple[str, ...] = ("results", "medications")
) -> str:
    """A link made by Alice through the action; returns its token."""
    access = decide(world.alice_user, world.alice)
    assert access is not None
    _link, token = do_create_share_link(
        Actor(world.alice_user, "127.0.0.1"),
        access,
        recipient="Dr Lee, Boston cardiology",
        selection=Selection.of(sections, None, None),
        expires_in_days=7,
        passcode=passcode,
    )
    return token


def shared(token: str) -> str:
    return reverse("shared:open", args=[token])


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# Making a link -------------------------------------------------------------------------------


def test_the_patient_makes_a_link_and_sees_it_once(client: Client, record: World) -> None:
    sign_in_recently(client, record.alice_user)
    assert client.get(reverse("record_sharing:new")).status_code == 200
    response = client.post(reverse("record_sharing:new"), new_link_data(passcode="tulip-42"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Copy the link now" in page
    found = re.search(r"http://testserver/shared/([A-Za-z0-9_-]{43})/", page)
    assert found is not None
    token = found.group(1)
    link = ShareLink.objects.get()
    assert link.patient == record.alice and link.created_by == record.alice_user
    assert link.recipient == "Dr Lee, Boston cardiology"
    assert link.sections == ["results", "medications"]
    assert dt.timedelta(days=6, hours=23) < link.expires_at - timezone.now() <= dt.timedelta(days=7)
    assert link.token_digest == hashlib.sha256(token.encode()).hexdigest() != token
    assert link.passcode_hash and "tulip-42" not in link.passcode_hash
    event = AuditEvent.objects.get(action="records.share_create")
    assert event.patient_id == record.alice.pk and event.detail["recipient"] == "Dr Lee, Boston cardiology"
    assert describe("records.share_create") == "made a link to share your record"
    # Never again: not in the list, not on the link's own page, not anywhere in the database.
    assert token not in client.get(reverse("record_sharing:list")).content.decode()
    assert token not in client.get(reverse("record_sharing:detail", args=[link.pk])).content.decode()
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert token not in dump.getvalue() and "tulip-42" not in dump.getvalue()


def test_making_a_link_asks_for_a_recent_reauthentication(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    for response in (
        client.get(reverse("record_sharing:new")),
        client.post(reverse("record_sharing:new"), new_link_data()),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"recipient": ""}, "Say who the link is for."),
        ({"sections": []}, "Choose at least one section."),
        ({"sections": ["everything"]}, "Choose sections from the list."),
        ({"date_from": "2024-05-01", "date_to": "2024-04-01"}, "on or after the start date"),
        ({"date_from": "not a date"}, "Enter a real date"),
        ({"expires_in": "3650"}, "Choose how long the link works from the list."),
        ({"expires_in": "x"}, "Choose how long the link works from the list."),
        ({"passcode": "12345"}, "at least 6 characters"),
        ({"recipient": "x" * 201}, "at most 200 characters"),
    ],
)
def test_bad_input_makes_no_link(
    client: Client, record: World, overrides: dict[str, Any], message: str
) -> None:
    sign_in_recently(client, record.alice_user)
    response = client.post(reverse("record_sharing:new"), new_link_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ShareLink.objects.exists()
    assert not AuditEvent.objects.filter(action="records.share_create").exists()


@pytest.mark.parametrize("name", ["list", "new"])
def test_a_proxy_who_does_not_manage_the_account_cannot_share(
    client: Client, record: World, name: str
) -> None:
    sign_in_recently(client, record.proxy_user)
    response = client.get(reverse(f"record_sharing:{name}"))
    assert response.status_code == 403
    assert "Only the patient can share the record" in response.content.decode()
    assert client.post(reverse("record_sharing:new"), new_link_data()).status_code == 403
    assert not ShareLink.objects.exists()


def test_a_proxy_cannot_see_or_revoke_the_patients_links(client: Client, record: World) -> None:
    make_link(record)
    link = ShareLink.objects.get()
    client.force_login(record.proxy_user)
    assert client.get(reverse("record_sharing:detail", args=[link.pk])).status_code == 403
    assert client.post(reverse("record_sharing:revoke", args=[link.pk])).status_code == 403
    link.refresh_from_db()
    assert link.revoked_at is None


def test_a_parent_of_a_young_child_shares_the_childs_record_until_their_access_ends(
    client: Client, world: World
) -> None:
    mia = make_patient("10000009", "Mia", "Able", world.campus)
    mia.birth_date = dt.date(timezone.localdate().year - 8, 1, 15)
    mia.save(update_fields=["birth_date"])
    make_panel(mia, "Lead screening", values=[("5671-3", "Lead", "2", "ug/dL", "0", "3.5")])
    grant = ProxyGrant.objects.create(
        grantee=world.alice_user,
        patient=mia,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=days_ago(30),
    )
    sign_in_recently(client, world.alice_user)
    session = client.session
    session[SESSION_KEY] = mia.pk  # Alice switches to Mia
    session.save()
    page = client.post(reverse("record_sharing:new"), new_link_data(sections=["results"])).content.decode()
    token = re.search(r"/shared/([A-Za-z0-9_-]{43})/", page).group(1)  # type: ignore[union-attr]
    viewer = Client()
    opened = viewer.get(shared(token)).content.decode()
    assert "Health record of Mia Able" in opened and "Lead screening" in opened
    assert "shared by Alice Able with Dr Lee" in opened
    grant.revoked_at = timezone.now()
    grant.save()
    gone = viewer.get(shared(token))
    assert gone.status_code == 404 and NOT_VALID in gone.content.decode()


# Opening a link ------------------------------------------------------------------------------


def test_anyone_with_the_link_sees_the_chosen_sections_as_the_patient_does(record: World) -> None:
    token = make_link(record)
    viewer = Client(HTTP_USER_AGENT="Cardiology browser")
    response = viewer.get(shared(token))
    page = response.content.decode()
    assert response.status_code == 200
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["Referrer-Policy"] == "no-referrer"
    assert "Health record of Alice Able" in page
    assert "shared by Alice Able with Dr Lee, Boston cardiology" in page
    assert "This link works until" in page
    assert "Glucose" in page and "Lisinopril" in page
    assert "Held lipid panel" not in page and "Cholesterol" not in page
    assert "Blood pressure follow-up" not in page  # notes were not shared
    visit = ShareLinkOpen.objects.get()
    assert visit.outcome == ShareLinkOpen.Outcome.OPENED
    assert visit.client_address == "127.0.0.1" and visit.user_agent == "Cardiology browser"
    event = AuditEvent.objects.get(action="records.share_open")
    assert event.patient_id == record.alice.pk and event.actor_id is None
    assert event.actor_role == "anonymous" and event.kind == "read"
    assert describe("records.share_open", event.detail) == (
        "opened the share link you made for Dr Lee, Boston cardiology"
    )
    # The patient sees it in "Who viewed my record".
    patient = Client()
    patient.force_login(record.alice_user)
    log = patient.get(reverse("audit:access_log")).content.decode()
    assert "pened the share link you made for Dr Lee, Boston cardiology" in log


def test_the_shared_record_downloads_as_a_pdf(record: World) -> None:
    token = make_link(record)
    viewer = Client()
    response = viewer.get(reverse("shared:pdf", args=[token]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Referrer-Policy"] == "no-referrer"
    text = pdf_text(response.content)
    assert "Alice Able" in text and "Glucose" in text and "Lisinopril" in text
    assert "Cholesterol" not in text
    assert AuditEvent.objects.filter(action="records.share_pdf").count() == 1


def test_a_signed_in_visitor_is_still_only_a_link_holder(client: Client, record: World) -> None:
    token = make_link(record)
    client.force_login(record.bob_user)
    page = client.get(shared(token)).content.decode()
    assert "Health record of Alice Able" in page
    event = AuditEvent.objects.get(action="records.share_open")
    assert event.actor_id is None and event.actor_role == "anonymous"


def test_a_passcode_is_asked_for_before_anything_is_shown(record: World) -> None:
    token = make_link(record, passcode="tulip-42")
    viewer = Client()
    asked = viewer.get(shared(token))
    page = asked.content.decode()
    assert asked.status_code == 200 and "Type the passcode" in page
    assert "Alice" not in page and "Glucose" not in page and "Dr Lee" not in page
    assert asked["X-Robots-Tag"].startswith("noindex")
    # The passcode form needs the browser's Origin header for the CSRF check.
    assert asked["Referrer-Policy"] == "same-origin"
    # The PDF waits for the passcode too.
    assert viewer.get(reverse("shared:pdf", args=[token]))["Location"] == shared(token)

    wrong = viewer.post(shared(token), {"passcode": "tulip-43"})
    assert wrong.status_code == 400 and "That passcode is not right." in wrong.content.decode()
    assert "Glucose" not in wrong.content.decode()
    assert ShareLinkOpen.objects.get().outcome == ShareLinkOpen.Outcome.WRONG_PASSCODE
    assert AuditEvent.objects.filter(action="records.share_wrong_passcode", outcome="denied").count() == 1

    right = viewer.post(shared(token), {"passcode": "tulip-42"})
    assert right.status_code == 302 and right["Location"] == shared(token)
    assert "Glucose" in viewer.get(shared(token)).content.decode()
    assert viewer.get(reverse("shared:pdf", args=[token])).status_code == 200
    # Another browser still has to type it.
    assert "Type the passcode" in Client().get(shared(token)).content.decode()
    outcomes = list(ShareLinkOpen.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["wrong-passcode", "opened", "opened"]


def test_too_many_wrong_passcodes_lock_the_link_for_an_hour(record: World) -> None:
    token = make_link(record, passcode="tulip-42")
    viewer = Client()
    for _attempt in range(WRONG_PASSCODES_ALLOWED - 1):
        assert viewer.post(shared(token), {"passcode": "guess-guess"}).status_code == 400
    last = viewer.post(shared(token), {"passcode": "guess-guess"})
    assert last.status_code == 429 and "locked for an hour" in last.content.decode()
    # Even the right passcode, from anywhere, waits out the hour.
    locked = Client().post(shared(token), {"passcode": "tulip-42"})
    assert locked.status_code == 429 and "Glucose" not in locked.content.decode()
    assert ShareLinkOpen.objects.filter(outcome="wrong-passcode").count() == WRONG_PASSCODES_ALLOWED
    assert ShareLinkOpen.objects.filter(outcome="refused").count() == 1
    cache.clear()  # the hour passes
    assert Client().post(shared(token), {"passcode": "tulip-42"}).status_code == 302


def test_the_patient_sees_every_visit_in_the_links_log(client: Client, record: World) -> None:
    token = make_link(record, passcode="tulip-42")
    viewer = Client(HTTP_USER_AGENT="Cardiology browser")
    viewer.post(shared(token), {"passcode": "wrong-one"})
    viewer.post(shared(token), {"passcode": "tulip-42"})
    viewer.get(shared(token))
    link = ShareLink.objects.get()
    client.force_login(record.alice_user)
    listing = client.get(reverse("record_sharing:list")).content.decode()
    assert "Dr Lee, Boston cardiology" in listing and "Active" in listing
    assert "Opened once" in listing and "Test results, Medications" in listing and "All dates" in listing
    log = client.get(reverse("record_sharing:detail", args=[link.pk])).content.decode()
    assert "Opened" in log and "Wrong passcode" in log
    assert "127.0.0.1" in log and "Cardiology browser" in log


def test_revoking_a_link_takes_it_down_at_once(client: Client, record: World) -> None:
    token = make_link(record)
    viewer = Client()
    assert viewer.get(shared(token)).status_code == 200
    link = ShareLink.objects.get()
    client.force_login(record.alice_user)
    response = client.post(reverse("record_sharing:revoke", args=[link.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("record_sharing:list")
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert "Revoked" in client.get(reverse("record_sharing:list")).content.decode()
    event = AuditEvent.objects.get(action="records.share_revoke")
    assert event.actor_id == record.alice_user.pk and event.patient_id == record.alice.pk
    gone = viewer.get(shared(token))
    assert gone.status_code == 404 and NOT_VALID in gone.content.decode()
    assert viewer.get(reverse("shared:pdf", args=[token])).status_code == 404
    assert ShareLinkOpen.objects.filter(outcome="refused").count() == 2
    assert_same_as_missing(gone, viewer.get(shared("x" * 43)))
    # Revoking again changes nothing.
    client.post(reverse("record_sharing:revoke", args=[link.pk]))
    assert AuditEvent.objects.filter(action="records.share_revoke").count() == 1


def test_revoking_needs_a_post(client: Client, record: World) -> None:
    make_link(record)
    link = ShareLink.objects.get()
    client.force_login(record.alice_user)
    assert client.get(reverse("record_sharing:revoke", args=[link.pk])).status_code == 405
    link.refresh_from_db()
    assert link.revoked_at is None


def test_an_expired_link_looks_like_an_unknown_one(record: World) -> None:
    token = make_link(record)
    ShareLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    viewer = Client()
    expired = viewer.get(shared(token))
    assert expired.status_code == 404 and NOT_VALID in expired.content.decode()
    assert_same_as_missing(expired, viewer.get(shared("not-a-real-token")))
    assert ShareLinkOpen.objects.get().outcome == ShareLinkOpen.Outcome.REFUSED
    assert AuditEvent.objects.filter(action="records.share_refused", patient_id=record.alice.pk).count() == 1


@pytest.mark.parametrize("token", ["a", "x" * 500, "%00", "..", "ü" * 10])
def test_garbage_tokens_are_simply_not_valid(record: World, token: str) -> None:
    response = Client().get(f"/shared/{token}/")
    assert response.status_code == 404
    assert not ShareLinkOpen.objects.exists()


def test_a_link_dies_with_its_creators_account(record: World) -> None:
    token = make_link(record)
    User.objects.filter(pk=record.alice_user.pk).update(is_active=False)
    assert Client().get(shared(token)).status_code == 404


def test_the_link_follows_the_release_rules_as_they_are_when_opened(record: World) -> None:
    token = make_link(record)
    assert "Cholesterol" not in Client().get(shared(token)).content.decode()
    from portal.records.models import ResultReport

    ResultReport.objects.filter(name="Held lipid panel").update(available_at=timezone.now())
    assert "Cholesterol" in Client().get(shared(token)).content.decode()


# Strangers -----------------------------------------------------------------------------------


def test_another_patient_cannot_see_or_revoke_alices_links(client: Client, record: World) -> None:
    make_link(record)
    link = ShareLink.objects.get()
    client.force_login(record.bob_user)
    assert "Dr Lee" not in client.get(reverse("record_sharing:list")).content.decode()
    assert_same_as_missing(
        client.get(reverse("record_sharing:detail", args=[link.pk])),
        client.get(reverse("record_sharing:detail", args=[999999])),
    )
    assert_same_as_missing(
        client.post(reverse("record_sharing:revoke", args=[link.pk])),
        client.post(reverse("record_sharing:revoke", args=[999999])),
    )
    link.refresh_from_db()
    assert link.revoked_at is None
    assert AuditEvent.objects.filter(action="access.refused", actor_id=record.bob_user.pk).count() == 4


@pytest.mark.parametrize("link_id", ["99999999999999999999999", "0"])
def test_huge_or_zero_ids_are_missing(client: Client, record: World, link_id: str) -> None:
    client.force_login(record.alice_user)
    assert client.get(f"/record/sharing/{link_id}/").status_code == 404
    assert client.post(f"/record/sharing/{link_id}/revoke/").status_code == 404


@pytest.mark.parametrize("persona", ["clinician", "unassigned_staff"])
def test_staff_have_no_patient_side_sharing(client: Client, record: World, persona: str) -> None:
    make_link(record)
    link = ShareLink.objects.get()
    client.force_login(record.persona(persona))
    assert client.get(reverse("record_sharing:list"))["Location"] == reverse("staff:home")
    assert client.post(reverse("record_sharing:revoke", args=[link.pk]))["Location"] == reverse("staff:home")
    link.refresh_from_db()
    assert link.revoked_at is None


@pytest.mark.parametrize(("name", "args"), [("list", []), ("new", []), ("detail", [1]), ("revoke", [1])])
def test_anonymous_visitors_are_sent_to_sign_in(
    client: Client, record: World, name: str, args: list[int]
) -> None:
    response = client.post(reverse(f"record_sharing:{name}", args=args))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


# Cost ----------------------------------------------------------------------------------------


def test_the_list_costs_the_same_with_five_or_fifty_links(client: Client, record: World) -> None:
    client.force_login(record.alice_user)
    for _number in range(5):
        make_link(record)
    client.get(reverse("record_sharing:list"))  # the first request also settles the session
    few = query_count(lambda: client.get(reverse("record_sharing:list")))
    for _number in range(45):
        make_link(record)
    for token in [make_link(record)]:
        Client().get(shared(token))
    many = query_count(lambda: client.get(reverse("record_sharing:list")))
    assert few == many


def test_the_shared_view_costs_the_same_with_few_or_many_rows(record: World) -> None:
    token = make_link(record)
    Client().get(shared(token))
    few = query_count(lambda: Client().get(shared(token)))
    for number in range(30):
        make_panel(record.alice, f"Panel {number}")
        make_medication(record.alice, f"Medication {number}")
    many = query_count(lambda: Client().get(shared(token)))
    assert few == many


def _teen(world: World) -> tuple[Patient, User]:
    tia = make_patient("10000015", "Tia", "Able", world.campus, account=make_user("tia"))
    tia.birth_date = dt.date(timezone.localdate().year - 15, 1, 1)
    tia.save(update_fields=["birth_date"])
    return tia, tia.account  # type: ignore[return-value]


def test_a_teenagers_own_link_shows_her_confidential_care(record: World) -> None:
    tia, account = _teen(record)
    make_note(tia, "Counselling session", sensitivity="mental-health")
    access = decide(account, tia)
    assert access is not None
    _link, token = do_create_share_link(
        Actor(account, "127.0.0.1"),
        access,
        recipient="School nurse",
        selection=Selection.of(["notes"], None, None),
        expires_in_days=1,
    )
    assert "Counselling session" in Client().get(shared(token)).content.decode()


def test_a_link_too_long_for_one_pdf_offers_printing_instead(record: World, monkeypatch: Any) -> None:
    from portal.records import pdf

    monkeypatch.setattr(pdf, "MAX_PDF_LINES", 5)
    token = make_link(record)
    viewer = Client()
    page = viewer.get(shared(token)).content.decode()
    assert "too long for one PDF" in page and reverse("shared:pdf", args=[token]) not in page
    assert viewer.get(reverse("shared:pdf", args=[token]))["Location"] == shared(token)
    assert not AuditEvent.objects.filter(action="records.share_pdf").exists()
