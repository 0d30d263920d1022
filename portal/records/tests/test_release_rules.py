"""Release rules on every patient-side page: held results, waiting for review, an adolescent's
confidential care, and the patient's own release preferences."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from PIL import Image

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.patients.access import decide
from portal.patients.models import CareRelationship, Patient, ProxyGrant, Scope
from portal.records.access import visible, visible_observations, visible_reports
from portal.records.models import ImagingImage, Medication, Problem, ReleasePreference, ResultReport
from portal.records.preferences import do_set_release_preferences
from portal.records.tests.support import days_ago, make_medication, make_panel, make_problem
from portal.test import World, make_patient, make_user

pytestmark = pytest.mark.django_db

# 9.87 is a value no page prints by chance (chart coordinates have at most one decimal).
HELD_VALUES = [("2823-3", "Potassium", "9.87", "mmol/L", "3.5", "5.1")]
SECRET_VALUES = [("6357-8", "Chlamydia test", "1", "", "0", "0")]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


LIST_PAGES = {
    "summary": reverse_lazy("records:summary"),
    "results": reverse_lazy("records:results"),
    "imaging": reverse_lazy("records:imaging"),
    "home": reverse_lazy("home"),
}


def with_image(report: ResultReport) -> ImagingImage:
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, format="PNG")
    picture = ImagingImage(report=report, content_type="image/png")
    picture.image.save("held.png", ContentFile(buffer.getvalue()), save=True)
    return picture


# Held results --------------------------------------------------------------------------------


def test_a_held_result_is_invisible_everywhere_until_released(client: Client, world: World) -> None:
    make_panel(world.alice, "Visible panel", when=days_ago(20))
    held = make_panel(
        world.alice,
        "Held thyroid panel",
        values=HELD_VALUES,
        category=ResultReport.Category.IMAGING,
        available_at=timezone.now() + dt.timedelta(hours=24),
        hold_reason="Needs a conversation about the diagnosis first",
    )
    picture = with_image(held)
    client.force_login(world.alice_user)
    for name, url in LIST_PAGES.items():
        page = client.get(str(url)).content.decode()
        assert "Held thyroid panel" not in page, name
        assert "9.87 mmol/L" not in page, name
        assert "Needs a conversation" not in page, name
    assert client.get(reverse("records:result", args=[held.pk])).status_code == 404
    assert client.get(reverse("records:image", args=[held.pk, picture.pk])).status_code == 404
    trend = client.get(reverse("records:trend", args=["2823-3"])).content.decode()
    assert "9.87 mmol/L" not in trend  # the released panel's potassium is there, the held one is not
    home = client.get(reverse("home")).content.decode()
    assert "1 new result" in home

    held.available_at = timezone.now() - dt.timedelta(minutes=1)
    held.save()
    assert "2 new results" in client.get(reverse("home")).content.decode()
    assert "Held thyroid panel" in client.get(reverse("records:results")).content.decode()
    assert "Held thyroid panel" in client.get(reverse("records:summary")).content.decode()
    assert client.get(reverse("records:result", args=[held.pk])).status_code == 200
    assert client.get(reverse("records:image", args=[held.pk, picture.pk])).status_code == 200
    assert "9.87 mmol/L" in client.get(reverse("records:trend", args=["2823-3"])).content.decode()
    assert (
        "Needs a conversation" not in client.get(reverse("records:result", args=[held.pk])).content.decode()
    )


def test_a_test_seen_only_in_held_results_has_no_trend(client: Client, world: World) -> None:
    make_panel(
        world.alice,
        values=[("14647-2", "Cholesterol", "240", "mg/dL", "0", "200")],
        available_at=days_ago(-1),
    )
    client.force_login(world.alice_user)
    assert client.get(reverse("records:trend", args=["14647-2"])).status_code == 404


def test_the_care_team_sees_held_results(world: World) -> None:
    held = make_panel(world.alice, available_at=days_ago(-1))
    access = decide(world.clinician, world.alice)
    assert access is not None
    assert held in visible_reports(access)
    patient_access = decide(world.alice_user, world.alice)
    assert patient_access is not None
    assert held not in visible_reports(patient_access)


# Waiting for the clinician's review ----------------------------------------------------------


def test_a_wait_for_review_category_is_hidden_until_reviewed(client: Client, world: World) -> None:
    ReleasePreference.objects.create(
        patient=world.alice, category=ResultReport.Category.LAB, wait_for_review=True
    )
    lab = make_panel(world.alice, "Unreviewed lab panel", values=HELD_VALUES)
    scan = make_panel(world.alice, "Heart scan", category=ResultReport.Category.CARDIOLOGY)
    client.force_login(world.alice_user)
    for url in (reverse("records:results"), reverse("records:summary"), reverse("home")):
        page = client.get(url).content.decode()
        assert "Unreviewed lab panel" not in page
        assert "Heart scan" in page
    assert client.get(reverse("records:result", args=[lab.pk])).status_code == 404
    assert "9.87 mmol/L" not in client.get(reverse("records:trend", args=["2823-3"])).content.decode()
    assert client.get(reverse("records:result", args=[scan.pk])).status_code == 200

    lab.reviewed_at = timezone.now()
    lab.save()
    assert "Unreviewed lab panel" in client.get(reverse("records:results")).content.decode()
    assert client.get(reverse("records:result", args=[lab.pk])).status_code == 200


# An adolescent's confidential care ---------------------------------------------------------


def adolescent(world: World) -> tuple[Patient, User, User]:
    """A 15-year-old with their own sign-in, a parent with view access, and Carol caring for them."""
    teen_user = make_user("tess", first_name="Tess", last_name="Able")
    teen = make_patient("10000015", "Tess", "Able", world.campus, account=teen_user)
    today = timezone.localdate()
    teen.birth_date = dt.date(today.year - 15, 1, 1)
    teen.save(update_fields=["birth_date"])
    parent = make_user("paula", first_name="Paula", last_name="Able")
    ProxyGrant.objects.create(
        grantee=parent,
        patient=teen,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=400),
    )
    CareRelationship.objects.create(
        patient=teen,
        care_team=world.care_team,
        practitioner=world.clinician.practitioner,
        starts_on=dt.date(2020, 1, 1),
    )
    return teen, teen_user, parent


def confidential_record(teen: Patient) -> tuple[ResultReport, ResultReport]:
    everyday = make_panel(teen, "Everyday panel")
    secret = make_panel(teen, "Sexual health screen", values=SECRET_VALUES, sensitivity="sexual-health")
    make_problem(teen, "Anxiety", sensitivity="mental-health")
    make_problem(teen, "Asthma")
    make_medication(teen, "Sertraline", sensitivity="mental-health")
    make_medication(teen, "Salbutamol inhaler")
    return everyday, secret


def test_a_parent_does_not_see_an_adolescents_confidential_care(client: Client, world: World) -> None:
    teen, _teen_user, parent = adolescent(world)
    everyday, secret = confidential_record(teen)
    client.force_login(parent)
    for url in (
        reverse("records:summary"),
        reverse("records:results"),
        reverse("records:problems"),
        reverse("records:medications"),
        reverse("home"),
    ):
        response = client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        for hidden in ("Sexual health screen", "Chlamydia", "Anxiety", "Sertraline"):
            assert hidden not in page, (url, hidden)
    summary = client.get(reverse("records:summary")).content.decode()
    assert "Everyday panel" in summary and "Asthma" in summary and "Salbutamol" in summary
    assert client.get(reverse("records:result", args=[secret.pk])).status_code == 404
    assert client.get(reverse("records:trend", args=["6357-8"])).status_code == 404
    assert client.get(reverse("records:result", args=[everyday.pk])).status_code == 200
    assert AuditEvent.objects.filter(action="access.refused", actor_id=parent.pk).exists()


def test_the_adolescent_and_their_clinician_see_it_all(client: Client, world: World) -> None:
    teen, teen_user, _parent = adolescent(world)
    _everyday, secret = confidential_record(teen)
    client.force_login(teen_user)
    summary = client.get(reverse("records:summary")).content.decode()
    for shown in ("Sexual health screen", "Anxiety", "Sertraline"):
        assert shown in summary
    assert client.get(reverse("records:result", args=[secret.pk])).status_code == 200
    assert client.get(reverse("records:trend", args=["6357-8"])).status_code == 200
    clinician = decide(world.clinician, teen)
    assert clinician is not None
    assert secret in visible_reports(clinician)
    assert visible_observations(clinician).filter(code="6357-8").exists()
    assert visible(Problem, clinician).filter(name="Anxiety").exists()
    assert visible(Medication, clinician).filter(name="Sertraline").exists()


# Release preferences -------------------------------------------------------------------------


def test_the_patient_chooses_to_wait_for_review(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    page = client.get(reverse("records:preferences")).content.decode()
    assert "as soon as they are ready" in page and "Wait until my clinician has reviewed them" in page
    assert "That is the default" in page
    choices = {category: "now" for category in ResultReport.Category.values}
    choices["genetics"] = "review"
    response = client.post(reverse("records:preferences"), choices)
    assert response.status_code == 302
    assert list(
        ReleasePreference.objects.filter(patient=world.alice, wait_for_review=True).values_list(
            "category", flat=True
        )
    ) == ["genetics"]
    event = AuditEvent.objects.get(action="records.release_preferences")
    assert event.detail == {"wait_for_review": {"genetics": True}}
    assert event.actor_role == "patient"
    assert (
        client.post(reverse("records:preferences"), choices, follow=True)
        .content.decode()
        .count("Nothing changed.")
        == 1
    )
    assert AuditEvent.objects.filter(action="records.release_preferences").count() == 1
    choices["genetics"] = "now"
    client.post(reverse("records:preferences"), choices)
    assert not ReleasePreference.objects.filter(patient=world.alice, wait_for_review=True).exists()


def test_a_bad_choice_changes_nothing(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    choices = {category: "now" for category in ResultReport.Category.values}
    choices["lab"] = "whenever"
    response = client.post(reverse("records:preferences"), choices)
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    del choices["lab"]
    response = client.post(reverse("records:preferences"), choices)
    assert "Choose when to see these results." in response.content.decode()
    assert not ReleasePreference.objects.exists()
    assert not AuditEvent.objects.filter(action="records.release_preferences").exists()


def test_a_proxy_sees_the_preferences_but_cannot_change_them(client: Client, world: World) -> None:
    ReleasePreference.objects.create(patient=world.alice, category="lab", wait_for_review=True)
    client.force_login(world.proxy_user)
    page = client.get(reverse("records:preferences")).content.decode()
    assert "Only Alice Able can change these choices." in page
    assert '<form method="post" action="/record/preferences/"' not in page
    response = client.post(reverse("records:preferences"), {"lab": "now"})
    assert response.status_code == 403
    assert ReleasePreference.objects.get(patient=world.alice, category="lab").wait_for_review is True
    access = decide(world.proxy_user, world.alice)
    assert access is not None
    with pytest.raises(PermissionDenied):
        do_set_release_preferences(Actor(user=world.proxy_user), access, {"lab": False})


def test_preferences_for_strangers_and_anonymous(client: Client, world: World) -> None:
    assert client.get(reverse("records:preferences"))["Location"].startswith(reverse("account_login"))
    client.force_login(world.unassigned_staff)
    assert client.get(reverse("records:preferences"))["Location"] == reverse("staff:home")
    client.force_login(world.bob_user)
    client.post(
        reverse("records:preferences"), {category: "review" for category in ResultReport.Category.values}
    )
    assert not ReleasePreference.objects.filter(patient=world.alice).exists()
    assert ReleasePreference.objects.filter(patient=world.bob).count() == len(ResultReport.Category.values)
