"""The patient's side of e-visits: choose, answer, review (photos, price), send once, withdraw, read the answer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing.models import ServiceLine
from portal.notifications.models import Notification
from portal.organization.models import Department
from portal.patients.access import pool_access
from portal.patients.models import ProxyGrant, Scope
from portal.telehealth import evisit_review, evisits
from portal.telehealth.models import EVisit, EVisitPhoto
from portal.telehealth.tests.support import TelehealthWorld, patient_access, telehealth_world
from portal.test import World, assert_same_as_missing, make_patient, make_user, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321
ANSWERS = {"q0": "3", "q1": "yes", "q2": "no", "q3": "Started after a cold at work."}
PRICE_SENTENCE = (
    "An e-visit for Cold and flu symptoms costs $35.00. It is billed to your account after a clinician "
    "answers; if they decide you need a visit instead, there is no charge."
)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


@pytest.fixture
def tw(world: World, media: Path) -> TelehealthWorld:
    return telehealth_world(world)


def signed_in(world: World, persona: str = "patient") -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(world.persona(persona))
    return client


def draft(tw: TelehealthWorld) -> EVisit:
    """Alice's draft, through the page."""
    response = signed_in(tw.world).post(reverse("evisits:questionnaire", args=[tw.condition.slug]), ANSWERS)
    assert response.status_code == 302
    return EVisit.objects.latest("id")


def sent(tw: TelehealthWorld) -> EVisit:
    evisit = draft(tw)
    assert signed_in(tw.world).post(reverse("evisits:submit", args=[evisit.pk])).status_code == 302
    evisit.refresh_from_db()
    return evisit


def reviewer(tw: TelehealthWorld) -> Any:
    access = pool_access(tw.world.clinician, tw.world.alice, tw.world.care_team)
    assert access is not None
    return access


def claimed(tw: TelehealthWorld) -> EVisit:
    evisit = sent(tw)
    evisit_review.do_claim_evisit(Actor(user=tw.world.clinician), reviewer(tw), evisit)
    evisit.refresh_from_db()
    return evisit


def png(name: str = "rash.png", size: tuple[int, int] = (40, 30)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 80)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def message_only_proxy(world: World, scopes: list[str]) -> Client:
    user = make_user("vic")
    ProxyGrant.objects.create(
        grantee=user,
        patient=world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=scopes,
        starts_at=world.proxy_grant.starts_at,
    )
    client = Client()
    client.force_login(user)
    return client


# Choosing and answering ------------------------------------------------------------------------


def test_the_choice_shows_active_conditions_with_description_and_price(tw: TelehealthWorld) -> None:
    page = signed_in(tw.world).get(reverse("evisits:choose")).content.decode()
    assert "Cold and flu symptoms" in page and "Cough, sore throat" in page
    assert "$35.00" in page
    assert reverse("evisits:questionnaire", args=["cold-and-flu"]) in page
    assert "If this is an emergency, call 911." in page


def test_conditions_the_patient_is_too_young_for_or_retired_are_hidden(tw: TelehealthWorld) -> None:
    tw.condition.min_age = 50  # Alice was born in 1980
    tw.condition.save(update_fields=["min_age"])
    client = signed_in(tw.world)
    assert "Cold and flu symptoms" not in client.get(reverse("evisits:choose")).content.decode()
    url = reverse("evisits:questionnaire", args=["cold-and-flu"])
    assert client.get(url).status_code == 404
    assert client.post(url, ANSWERS).status_code == 404
    tw.condition.min_age, tw.condition.active = 0, False
    tw.condition.save(update_fields=["min_age", "active"])
    assert client.get(url).status_code == 404
    assert not EVisit.objects.exists()


def test_the_questionnaire_starts_with_the_emergency_notice(tw: TelehealthWorld) -> None:
    page = signed_in(tw.world).get(reverse("evisits:questionnaire", args=["cold-and-flu"])).content.decode()
    assert page.index("If this is an emergency, call 911.") < page.index("Do you have trouble breathing?")
    assert "How many days have you had symptoms?" in page
    assert signed_in(tw.world).get(reverse("evisits:questionnaire", args=["no-such"])).status_code == 404


@pytest.mark.parametrize(
    "changes",
    [{"q0": ""}, {"q0": "three"}, {"q1": "maybe"}, {"q0": "9" * 40}, {"q3": "x" * 5000}, {"q2": ""}],
)
def test_bad_answers_re_render_with_a_message_and_change_nothing(tw: TelehealthWorld, changes: Any) -> None:
    url = reverse("evisits:questionnaire", args=["cold-and-flu"])
    response = signed_in(tw.world).post(url, {**ANSWERS, **changes})
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert not EVisit.objects.exists()


def test_answers_make_a_draft_at_the_price_shown(tw: TelehealthWorld) -> None:
    evisit = draft(tw)
    assert evisit.status == EVisit.Status.DRAFT and evisit.patient == tw.world.alice
    assert evisit.price_cents == 35_00 and evisit.started_by == tw.world.alice_user
    assert {item["linkId"] for item in evisit.answers} == {"days", "fever", "breathing", "notes"}
    assert AuditEvent.objects.filter(action="telehealth.evisit_start", object_id=str(evisit.pk)).exists()


# The review step, sending, withdrawing ---------------------------------------------------------


def test_the_draft_reads_the_answers_back_with_the_price_and_a_submit_button(tw: TelehealthWorld) -> None:
    evisit = draft(tw)
    page = signed_in(tw.world).get(reverse("evisits:detail", args=[evisit.pk])).content.decode()
    assert "Check your answers" in page
    assert "How many days have you had symptoms?" in page and "Started after a cold at work." in page
    assert PRICE_SENTENCE in page
    assert reverse("evisits:submit", args=[evisit.pk]) in page
    assert "If this is an emergency, call 911." in page
    assert "Add the photo" not in page  # this condition does not ask for photos
    event = AuditEvent.objects.filter(action="telehealth.evisit_view").get()
    assert event.object_id == str(evisit.pk) and event.actor == tw.world.alice_user


def test_sending_tells_the_review_team_once_even_on_a_double_click(tw: TelehealthWorld) -> None:
    evisit = draft(tw)
    client = signed_in(tw.world, "proxy")
    url = reverse("evisits:submit", args=[evisit.pk])
    first, second = client.post(url), client.post(url)
    assert first.status_code == second.status_code == 302
    evisit.refresh_from_db()
    assert evisit.status == EVisit.Status.SUBMITTED and evisit.submitted_at is not None
    told = Notification.objects.filter(for_staff=True)
    assert [note.recipient for note in told] == [tw.world.clinician]  # Carol's team, not Dave or Nora
    assert told.get().link == reverse("staff_evisits:review", args=[evisit.pk])
    assert "Cold" not in told.get().title  # no health words in a notification
    assert AuditEvent.objects.filter(action="telehealth.evisit_submit").count() == 1
    access = patient_access(tw.world.proxy_user, tw.world.alice)
    assert evisits.do_submit_evisit(Actor(user=tw.world.proxy_user), access, evisit) is False


def test_a_draft_of_a_retired_condition_cannot_be_sent(tw: TelehealthWorld) -> None:
    evisit = draft(tw)
    tw.condition.active = False
    tw.condition.save(update_fields=["active"])
    page = signed_in(tw.world).post(reverse("evisits:submit", args=[evisit.pk]), follow=True).content.decode()
    assert "no longer offered" in page
    evisit.refresh_from_db()
    assert evisit.status == EVisit.Status.DRAFT
    assert not Notification.objects.filter(for_staff=True).exists()


def test_a_sent_evisit_waits_and_can_be_withdrawn_until_claimed(tw: TelehealthWorld) -> None:
    evisit = sent(tw)
    client = signed_in(tw.world)
    page = client.get(reverse("evisits:detail", args=[evisit.pk])).content.decode()
    assert "Waiting for a clinician" in page and "Withdraw the e-visit" in page
    assert reverse("evisits:submit", args=[evisit.pk]) not in page
    client.post(reverse("evisits:withdraw", args=[evisit.pk]))
    evisit.refresh_from_db()
    assert evisit.status == EVisit.Status.WITHDRAWN and evisit.withdrawn_at is not None
    assert (
        "You withdrew this e-visit"
        in client.get(reverse("evisits:detail", args=[evisit.pk])).content.decode()
    )


def test_a_claimed_evisit_cannot_be_withdrawn(tw: TelehealthWorld) -> None:
    evisit = claimed(tw)
    client = signed_in(tw.world)
    page = client.get(reverse("evisits:detail", args=[evisit.pk])).content.decode()
    assert "A clinician is reviewing your e-visit now." in page and "Withdraw the e-visit" not in page
    refused = client.post(reverse("evisits:withdraw", args=[evisit.pk]), follow=True).content.decode()
    assert "cannot be withdrawn" in refused
    evisit.refresh_from_db()
    assert evisit.status == EVisit.Status.IN_REVIEW


def test_the_price_shown_is_the_price_charged_even_if_the_price_list_changes(tw: TelehealthWorld) -> None:
    evisit = draft(tw)
    page = signed_in(tw.world).get(reverse("evisits:detail", args=[evisit.pk])).content.decode()
    assert PRICE_SENTENCE in page
    tw.condition.price_item.self_pay_price_cents = 99_00
    tw.condition.price_item.price_cents = 99_00
    tw.condition.price_item.save()
    signed_in(tw.world).post(reverse("evisits:submit", args=[evisit.pk]))
    evisit_review.do_claim_evisit(Actor(user=tw.world.clinician), reviewer(tw), evisit)
    evisit_review.do_reply_evisit(
        Actor(user=tw.world.clinician), reviewer(tw), evisit, assessment="A cold.", plan="Rest and fluids."
    )
    evisit.refresh_from_db()
    assert evisit.price_cents == 35_00
    line = ServiceLine.objects.filter(pk=evisit.service_line_id or 0).get()
    assert line.charge_cents == 35_00


def test_the_answer_shows_assessment_plan_prescription_referral_and_charge(tw: TelehealthWorld) -> None:
    evisit = claimed(tw)
    specialty = Department.objects.get(slug="family-medicine")
    evisit_review.do_reply_evisit(
        Actor(user=tw.world.clinician),
        reviewer(tw),
        evisit,
        assessment="A viral cold.",
        plan="Rest, fluids, and come back if it lasts.",
        prescription=evisit_review.PrescriptionInput(
            name="Benzonatate", dose="100 mg", instructions="At night"
        ),
        referral=evisit_review.ReferralInput(specialty=specialty, reason="Recurring sinus trouble"),
    )
    page = signed_in(tw.world).get(reverse("evisits:detail", args=[evisit.pk])).content.decode()
    assert "A viral cold." in page and "Rest, fluids, and come back if it lasts." in page
    assert "Benzonatate" in page and "100 mg" in page
    assert "A referral to Family Medicine was requested" in page
    evisit.refresh_from_db()
    assert reverse("referrals:detail", args=[evisit.referral_id]) in page
    assert "This e-visit costs $35.00, billed to your account." in page


def test_a_visit_instead_shows_what_the_clinician_said_and_how_to_book(tw: TelehealthWorld) -> None:
    evisit = claimed(tw)
    evisit_review.do_redirect_evisit(
        Actor(user=tw.world.clinician), reviewer(tw), evisit, message="Please come in so we can listen."
    )
    page = signed_in(tw.world).get(reverse("evisits:detail", args=[evisit.pk])).content.decode()
    assert "Please come in so we can listen." in page and "no charge" in page
    assert reverse("booking:start") in page and reverse("appointment_requests:new") in page
    proxy_page = (
        signed_in(tw.world, "proxy").get(reverse("evisits:detail", args=[evisit.pk])).content.decode()
    )
    assert reverse("booking:start") not in proxy_page  # Pat may not book for Alice
    assert "507-555-0101" in proxy_page


# Photos ----------------------------------------------------------------------------------------


@pytest.fixture
def photo_draft(tw: TelehealthWorld) -> EVisit:
    tw.condition.asks_for_photos = True
    tw.condition.save(update_fields=["asks_for_photos"])
    return draft(tw)


def add(client: Client, evisit: EVisit, upload: Any) -> Any:
    return client.post(reverse("evisits:add_photo", args=[evisit.pk]), {"photo": upload})


def test_a_photo_is_added_listed_and_only_downloaded(tw: TelehealthWorld, photo_draft: EVisit) -> None:
    client = signed_in(tw.world, "proxy")
    assert add(client, photo_draft, png("my rash.png")).status_code == 302
    photo = EVisitPhoto.objects.get()
    assert photo.content_type == "image/png" and "rash" not in photo.file.name
    page = client.get(reverse("evisits:detail", args=[photo_draft.pk])).content.decode()
    url = reverse("evisits:photo", args=[photo_draft.pk, photo.pk])
    assert url in page and "Add the photo" in page
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action="telehealth.evisit_photo_view", detail__photo=photo.pk).exists()


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (SimpleUploadedFile("rash.png", b"just text pretending", "image/png"), "Upload a JPEG or PNG photo."),
        (SimpleUploadedFile("page.html", b"<script>alert(1)</script>", "text/html"), "Upload a JPEG or PNG"),
        (SimpleUploadedFile("empty.png", b"", "image/png"), "The submitted file is empty."),
        ("", "Choose a photo to add."),
    ],
)
def test_bad_uploads_are_refused_with_a_message(
    tw: TelehealthWorld, photo_draft: EVisit, media: Path, upload: Any, error: str
) -> None:
    response = add(signed_in(tw.world), photo_draft, upload)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not EVisitPhoto.objects.exists()
    assert not media.exists() or not [path for path in media.rglob("*") if path.is_file()]


def test_a_photo_over_the_size_limit_is_refused(
    tw: TelehealthWorld, photo_draft: EVisit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.telehealth import forms_evisits

    monkeypatch.setattr(forms_evisits, "PHOTO_MAX_BYTES", 10)
    response = add(signed_in(tw.world), photo_draft, png())
    assert response.status_code == 400 and "The file is too large." in response.content.decode()
    assert not EVisitPhoto.objects.exists()


def test_at_most_five_photos_and_one_can_be_removed(tw: TelehealthWorld, photo_draft: EVisit) -> None:
    client = signed_in(tw.world)
    for number in range(evisits.MAX_PHOTOS):
        assert add(client, photo_draft, png(f"p{number}.png")).status_code == 302
    sixth = add(client, photo_draft, png("p6.png"))
    assert sixth.status_code == 400 and "at most 5 photos" in sixth.content.decode()
    assert EVisitPhoto.objects.count() == 5
    first = EVisitPhoto.objects.first()
    assert first is not None
    client.post(reverse("evisits:remove_photo", args=[photo_draft.pk, first.pk]))
    assert EVisitPhoto.objects.count() == 4
    assert AuditEvent.objects.filter(action="telehealth.evisit_photo_remove").exists()


def test_photos_cannot_change_once_sent_or_when_not_asked_for(
    tw: TelehealthWorld, photo_draft: EVisit
) -> None:
    client = signed_in(tw.world)
    add(client, photo_draft, png())
    client.post(reverse("evisits:submit", args=[photo_draft.pk]))
    assert add(client, photo_draft, png("late.png")).status_code == 400
    photo = EVisitPhoto.objects.get()
    client.post(reverse("evisits:remove_photo", args=[photo_draft.pk, photo.pk]))
    assert EVisitPhoto.objects.count() == 1
    tw.condition.asks_for_photos = False
    tw.condition.save(update_fields=["asks_for_photos"])
    assert add(client, draft(tw), png()).status_code == 400
    assert EVisitPhoto.objects.count() == 1


def test_a_photo_of_another_evisit_is_missing(tw: TelehealthWorld, photo_draft: EVisit) -> None:
    client = signed_in(tw.world)
    add(client, photo_draft, png())
    photo = EVisitPhoto.objects.get()
    other = draft(tw)
    mine = client.get(reverse("evisits:photo", args=[other.pk, photo.pk]))
    missing = client.get(reverse("evisits:photo", args=[other.pk, MISSING]))
    assert mine.status_code == missing.status_code == 404


# Who may do what -------------------------------------------------------------------------------

OBJECT_PAGES = [
    ("get", "evisits:detail", False),
    ("post", "evisits:add_photo", False),
    ("get", "evisits:photo", True),
    ("post", "evisits:remove_photo", True),
    ("post", "evisits:submit", False),
    ("post", "evisits:withdraw", False),
]


def object_urls(evisit_id: int, photo_id: int) -> list[tuple[str, str, str]]:
    return [
        (method, reverse(name, args=[evisit_id, photo_id] if with_photo else [evisit_id]), name)
        for method, name, with_photo in OBJECT_PAGES
    ]


@pytest.mark.parametrize("persona", ["other_patient", "unassigned_staff", "admin", "clinician", "anonymous"])
def test_strangers_get_what_a_missing_evisit_gets_and_change_nothing(
    tw: TelehealthWorld, photo_draft: EVisit, persona: str
) -> None:
    add(signed_in(tw.world), photo_draft, png())
    photo = EVisitPhoto.objects.get()
    client = signed_in(tw.world, persona)
    for (method, url, _name), (_m, missing_url, _n) in zip(
        object_urls(photo_draft.pk, photo.pk), object_urls(MISSING, MISSING), strict=True
    ):
        mine, missing = getattr(client, method)(url), getattr(client, method)(missing_url)
        if persona == "anonymous":
            assert mine.status_code == missing.status_code == 302
            assert mine["Location"].startswith(reverse("account_login"))
        else:
            assert_same_as_missing(mine, missing)
    photo_draft.refresh_from_db()
    assert photo_draft.status == EVisit.Status.DRAFT and EVisitPhoto.objects.count() == 1
    assert not Notification.objects.filter(for_staff=True).exists()


def test_a_clinician_who_is_also_a_patient_gets_404_on_the_patient_pages(
    tw: TelehealthWorld, photo_draft: EVisit
) -> None:
    make_patient("10000009", "Carol", "Staff", tw.world.campus, account=tw.world.clinician)
    add(signed_in(tw.world), photo_draft, png())
    photo = EVisitPhoto.objects.get()
    client = signed_in(tw.world, "clinician")
    for method, url, _name in object_urls(photo_draft.pk, photo.pk):
        assert getattr(client, method)(url).status_code == 404
    assert "Cold and flu" not in client.get(reverse("evisits:list")).content.decode()
    refused = AuditEvent.objects.filter(action="access.refused", actor=tw.world.clinician)
    assert refused.count() == len(OBJECT_PAGES)


def test_a_proxy_without_the_message_scope_gets_404_and_a_scope_page(
    tw: TelehealthWorld, photo_draft: EVisit
) -> None:
    add(signed_in(tw.world), photo_draft, png())
    photo = EVisitPhoto.objects.get()
    client = message_only_proxy(tw.world, [Scope.VIEW, Scope.SCHEDULE])
    for method, url, _name in object_urls(photo_draft.pk, photo.pk):
        assert getattr(client, method)(url).status_code == 404
    for name in ("evisits:list", "evisits:choose"):
        assert client.get(reverse(name)).status_code == 403
    questions = reverse("evisits:questionnaire", args=["cold-and-flu"])
    assert client.post(questions, ANSWERS).status_code == 403
    assert EVisit.objects.count() == 1


@pytest.mark.parametrize("persona", ["patient", "proxy"])
def test_the_patient_and_the_proxy_may_do_everything(tw: TelehealthWorld, persona: str) -> None:
    tw.condition.asks_for_photos = True
    tw.condition.save(update_fields=["asks_for_photos"])
    client = signed_in(tw.world, persona)
    assert client.get(reverse("evisits:choose")).status_code == 200
    assert client.get(reverse("evisits:questionnaire", args=["cold-and-flu"])).status_code == 200
    evisit = draft(tw)
    assert add(client, evisit, png()).status_code == 302
    photo = EVisitPhoto.objects.get()
    for method, url, name in object_urls(evisit.pk, photo.pk):
        if name not in ("evisits:withdraw", "evisits:add_photo"):
            expected = 200 if method == "get" else 302
            assert getattr(client, method)(url).status_code == expected, name
    evisit.refresh_from_db()
    assert evisit.status == EVisit.Status.SUBMITTED
    listing = client.get(reverse("evisits:list")).content.decode()
    assert "Waiting for a clinician" in listing
    assert AuditEvent.objects.filter(action="telehealth.evisit_list").exists()


@pytest.mark.parametrize("name", ["evisits:submit", "evisits:withdraw", "evisits:add_photo"])
def test_writes_refuse_get(tw: TelehealthWorld, name: str) -> None:
    evisit = draft(tw)
    assert signed_in(tw.world).get(reverse(name, args=[evisit.pk])).status_code == 405


def test_too_large_ids_are_a_plain_404(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world)
    assert client.get(f"/e-visits/{'9' * 30}/").status_code == 404
    assert client.get("/e-visits/abc/").status_code == 404


# Lists and query counts ------------------------------------------------------------------------


def make_evisits(tw: TelehealthWorld, count: int) -> None:
    EVisit.objects.bulk_create(
        EVisit(
            patient=tw.world.alice,
            condition=tw.condition,
            status=EVisit.Status.COMPLETED if number % 2 else EVisit.Status.SUBMITTED,
            price_cents=35_00,
            price_item=tw.condition.price_item,
            price_code="99421",
            price_description="E-visit, 5-10 minutes",
            started_by=tw.world.alice_user,
        )
        for number in range(count)
    )


def test_the_list_is_newest_first_in_plain_words_and_costs_the_same_however_long(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world)
    make_evisits(tw, 2)
    client.get(reverse("evisits:list"))  # the first request of a session does more
    few = query_count(lambda: client.get(reverse("evisits:list")))
    make_evisits(tw, 40)
    page = client.get(reverse("evisits:list"))
    assert page.status_code == 200
    assert query_count(lambda: client.get(reverse("evisits:list"))) == few
    text = page.content.decode()
    assert "Answered" in text and "Waiting for a clinician" in text
    assert text.count(reverse("evisits:detail", args=[EVisit.objects.first().pk])) == 1  # type: ignore[union-attr]
    assert "Show older e-visits" in text
    newest = EVisit.objects.order_by("-created_at", "-id").first()
    assert newest is not None and text.index(f"/e-visits/{newest.pk}/") < text.index("Show older e-visits")


def test_bob_never_sees_alices_evisits_in_his_list(tw: TelehealthWorld) -> None:
    make_evisits(tw, 3)
    page = signed_in(tw.world, "other_patient").get(reverse("evisits:list")).content.decode()
    assert "Cold and flu" not in page and "You have not started any e-visits yet." in page


def test_the_detail_page_costs_the_same_however_many_photos(
    tw: TelehealthWorld, photo_draft: EVisit, django_assert_max_num_queries: Any
) -> None:
    client = signed_in(tw.world)
    add(client, photo_draft, png())
    url = reverse("evisits:detail", args=[photo_draft.pk])
    client.get(url)  # the first request of a session does more
    one = query_count(lambda: client.get(url))
    for number in range(evisits.MAX_PHOTOS - 1):
        add(client, photo_draft, png(f"p{number}.png"))
    assert query_count(lambda: client.get(url)) == one
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200
