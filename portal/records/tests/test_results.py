"""Test results on the patient side: the list, one report, imaging and its key images."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from portal.audit.models import AuditEvent
from portal.patients.models import Scope
from portal.records.models import Correction, ImagingImage, Observation, ResultReport, ResultSeen
from portal.records.tests.support import days_ago, make_panel
from portal.records.views_results import REPORTS_PER_PAGE
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), color=128).save(buffer, format="PNG")
    return buffer.getvalue()


def make_imaging(world: World, **fields: Any) -> tuple[ResultReport, ImagingImage]:
    report = ResultReport.objects.create(
        patient=fields.pop("patient", world.alice),
        category=ResultReport.Category.IMAGING,
        name="Chest X-ray",
        code="36643-5",
        effective_at=days_ago(2),
        issued_at=days_ago(1),
        modality="DX",
        body_site="Chest",
        performer="Rochester Radiology",
        findings="The lungs are clear.\nNo fluid.",
        impression="Normal chest X-ray.",
        **fields,
    )
    picture = ImagingImage(
        report=report, content_type="image/png", width=8, height=8, description="Front view"
    )
    picture.image.save("chest.png", ContentFile(png_bytes()), save=True)
    return report, picture


def results_url(**query: str) -> str:
    url = reverse("records:results")
    if query:
        url += "?" + "&".join(f"{name}={value}" for name, value in query.items())
    return url


def actions_of(world: World) -> list[str]:
    return list(AuditEvent.objects.filter(patient_id=world.alice.pk).values_list("action", flat=True))


# The list ------------------------------------------------------------------------------------


def test_the_list_shows_each_report_with_values_ranges_and_flags_in_words(
    client: Client, world: World
) -> None:
    make_panel(world.alice)
    client.force_login(world.alice_user)
    response = client.get(results_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "Basic metabolic panel" in page
    assert "5.4 mmol/L" in page
    assert "3.5 - 5.1 mmol/L" in page
    assert "High" in page  # the flag in words, not only a colour
    assert "Ordered by Carol Staff, MD" in page
    assert "New" in page
    assert "records.results_view" in actions_of(world)


def test_the_list_is_newest_first_and_pages_by_date_then_id(client: Client, world: World) -> None:
    same_moment = days_ago(50)
    reports = [
        make_panel(world.alice, f"Panel {number}", when=same_moment) for number in range(REPORTS_PER_PAGE)
    ]
    newest = make_panel(world.alice, "Newest panel", when=days_ago(1))
    client.force_login(world.alice_user)
    first = client.get(results_url())
    first_page = first.content.decode()
    assert first_page.index("Newest panel") < first_page.index(f"Panel {REPORTS_PER_PAGE - 1}")
    cursor = first.context["page"].next_cursor
    assert cursor is not None
    shown = [report.pk for report, _rows in first.context["rows"]]
    second = client.get(results_url(after=cursor))
    more = [report.pk for report, _rows in second.context["rows"]]
    assert second.context["page"].next_cursor is None
    assert sorted(shown + more) == sorted([newest.pk] + [report.pk for report in reports])
    assert not set(shown) & set(more)
    assert "Back to the newest" in second.content.decode()


@pytest.mark.parametrize("cursor", ["garbage", "1_", "_5", "99999999999999999999999_1", "-1_-1", "12_34_56"])
def test_a_bad_cursor_starts_at_the_newest(client: Client, world: World, cursor: str) -> None:
    make_panel(world.alice)
    client.force_login(world.alice_user)
    response = client.get(results_url(after=cursor))
    assert response.status_code == 200


def test_filters_narrow_by_date_and_type(client: Client, world: World) -> None:
    make_panel(world.alice, "Old panel", when=days_ago(400))
    make_panel(world.alice, "Recent panel", when=days_ago(3))
    make_imaging(world)
    client.force_login(world.alice_user)
    since = days_ago(30).date().isoformat()
    page = client.get(results_url(date_from=since)).content.decode()
    assert "Recent panel" in page and "Old panel" not in page
    page = client.get(results_url(date_to=days_ago(300).date().isoformat())).content.decode()
    assert "Old panel" in page and "Recent panel" not in page
    page = client.get(results_url(category="imaging")).content.decode()
    assert "Chest X-ray" in page and "Recent panel" not in page
    event = AuditEvent.objects.filter(action="records.results_view").latest("sequence")
    assert event.detail["filters"] == {"category": "imaging"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "yesterday"}, "Enter a real date"),
        ({"date_from": "2025-02-30"}, "Enter a real date"),
        ({"date_to": "99999-01-01"}, "Enter a real date"),
        ({"date_from": "0001-01-01"}, "between 1900 and 2200"),
        ({"date_from": "2025-03-01", "date_to": "2025-01-01"}, "on or after"),
        ({"category": "x-files"}, "Choose a type from the list"),
    ],
)
def test_bad_filters_say_what_is_wrong(
    client: Client, world: World, query: dict[str, str], message: str
) -> None:
    make_panel(world.alice)
    client.force_login(world.alice_user)
    response = client.get(results_url(**query))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "There is a problem" in response.content.decode()


def test_the_imaging_page_lists_only_imaging(client: Client, world: World) -> None:
    make_panel(world.alice)
    make_imaging(world)
    client.force_login(world.alice_user)
    response = client.get(reverse("records:imaging"))
    page = response.content.decode()
    assert "Chest X-ray" in page and "Basic metabolic panel" not in page
    assert "Normal chest X-ray." in page
    assert "records.imaging_view" in actions_of(world)


def test_the_list_costs_the_same_for_5_and_50_reports(client: Client, world: World) -> None:
    for number in range(5):
        make_panel(world.alice, f"Panel {number}", when=days_ago(number + 1))
    client.force_login(world.alice_user)
    client.get(results_url())  # the first request of a session does its own bookkeeping
    few = query_count(lambda: client.get(results_url()))
    for number in range(45):
        make_panel(world.alice, f"More {number}", when=days_ago(number + 10))
    many = query_count(lambda: client.get(results_url()))
    assert few == many


# One report ----------------------------------------------------------------------------------


def test_a_report_shows_ranges_flags_guides_and_a_trend_link(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    potassium = Observation.objects.get(report=report, code="2823-3")
    potassium.note = "Sample slightly haemolysed."
    potassium.save()
    client.force_login(world.alice_user)
    response = client.get(reverse("records:result", args=[report.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "3.5 - 5.1 mmol/L" in page
    assert "High" in page
    assert "Sample slightly haemolysed." in page
    assert "What this test measures:" in page  # the panel's and each test's LabTestGuide
    assert reverse("records:trend", args=["2823-3"]) in page
    assert "This looks wrong" in page
    assert reverse("corrections:new") + "?type=records.observation&amp;id=" + str(potassium.pk) in page
    assert AuditEvent.objects.filter(action="records.result_view", object_id=str(report.pk)).exists()


def test_a_preliminary_result_says_it_may_change(client: Client, world: World) -> None:
    report = make_panel(world.alice, status=ResultReport.Status.PRELIMINARY)
    client.force_login(world.alice_user)
    page = client.get(reverse("records:result", args=[report.pk])).content.decode()
    assert "This result is preliminary" in page
    assert "Preliminary: may change" in page


def test_a_corrected_result_shows_what_it_said_before(client: Client, world: World) -> None:
    report = make_panel(world.alice, status=ResultReport.Status.CORRECTED)
    potassium = Observation.objects.get(report=report, code="2823-3")
    Correction.objects.create(
        patient=world.alice,
        item_type="records.observation",
        item_id=potassium.pk,
        previous={
            "value_number": "6.9",
            "unit": "mmol/L",
            "range_low": "3.5",
            "range_high": "5.1",
            "interpretation": "HH",
        },
        reason="Sample mixed up with another patient's",
        corrected_by=world.clinician,
    )
    client.force_login(world.alice_user)
    page = client.get(reverse("records:result", args=[report.pk])).content.decode()
    assert "Correction history" in page
    assert "previously 6.9 mmol/L (3.5 - 5.1 mmol/L) Critically high" in page
    assert "Sample mixed up with another patient" in page


def test_opening_a_report_clears_new_for_that_user_only(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    client.force_login(world.proxy_user)
    client.get(reverse("records:result", args=[report.pk]))
    assert ResultSeen.objects.filter(user=world.proxy_user, report=report).exists()
    assert not ResultSeen.objects.filter(user=world.alice_user, report=report).exists()
    client.force_login(world.alice_user)
    listed = client.get(results_url())
    assert listed.context["rows"][0][0].seen is False
    client.get(reverse("records:result", args=[report.pk]))
    client.get(reverse("records:result", args=[report.pk]))
    assert ResultSeen.objects.filter(report=report).count() == 2
    first_views = AuditEvent.objects.filter(action="records.result_view").values_list("detail", flat=True)
    assert [detail["first_view"] for detail in first_views] == [True, True, False]
    assert client.get(results_url()).context["rows"][0][0].seen is True


def test_an_imaging_report_shows_the_study_and_its_images(client: Client, world: World) -> None:
    report, picture = make_imaging(world)
    client.force_login(world.alice_user)
    page = client.get(reverse("records:result", args=[report.pk])).content.decode()
    for text in (
        'X-ray <span class="muted">(DX)</span>',
        "Chest",
        "Rochester Radiology",
        "The lungs are clear.<br>No fluid.",
        "Normal chest X-ray.",
    ):
        assert text in page
    image_url = reverse("records:image", args=[report.pk, picture.pk])
    assert f'src="{image_url}"' in page
    assert 'alt="Front view"' in page
    response = client.get(image_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == "inline"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == png_bytes()  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action="records.image_view", object_id=str(picture.pk)).exists()


def test_an_image_of_an_unexpected_type_is_a_download(client: Client, world: World) -> None:
    report, picture = make_imaging(world)
    picture.content_type = "text/html"
    picture.save()
    client.force_login(world.alice_user)
    response = client.get(reverse("records:image", args=[report.pk, picture.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_an_image_must_belong_to_the_report_in_the_url(client: Client, world: World) -> None:
    report, picture = make_imaging(world)
    other = make_panel(world.alice)
    client.force_login(world.alice_user)
    wrong = client.get(reverse("records:image", args=[other.pk, picture.pk]))
    missing = client.get(reverse("records:image", args=[report.pk, MISSING]))
    assert_same_as_missing(wrong, missing)


def test_a_report_page_costs_a_fixed_number_of_queries(client: Client, world: World) -> None:
    small = make_panel(world.alice)
    big = make_panel(
        world.alice,
        "Big panel",
        values=[(f"9{number}-0", f"Test {number}", "5", "u", "1", "9") for number in range(30)],
    )
    client.force_login(world.alice_user)
    client.get(reverse("records:result", args=[small.pk]))
    client.get(reverse("records:result", args=[big.pk]))
    assert query_count(lambda: client.get(reverse("records:result", args=[small.pk]))) == query_count(
        lambda: client.get(reverse("records:result", args=[big.pk]))
    )


# Who may see ---------------------------------------------------------------------------------


def test_a_proxy_with_view_scope_sees_results(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    client.force_login(world.proxy_user)
    assert client.get(results_url()).status_code == 200
    assert client.get(reverse("records:result", args=[report.pk])).status_code == 200
    event = AuditEvent.objects.filter(action="records.result_view").get()
    assert event.actor_role == "proxy"


def test_a_proxy_without_view_scope_gets_the_scope_page(client: Client, world: World) -> None:
    report, picture = make_imaging(world)
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    client.force_login(world.proxy_user)
    for url in (
        results_url(),
        reverse("records:imaging"),
        reverse("records:result", args=[report.pk]),
        reverse("records:image", args=[report.pk, picture.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 403
        assert "This part of the account is not shared with you" in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="records.").exists()


def test_another_patient_gets_the_missing_page_for_alices_results(client: Client, world: World) -> None:
    report, picture = make_imaging(world)
    panel = make_panel(world.alice)
    client.force_login(world.bob_user)
    for name, args, missing_args in (
        ("records:result", [panel.pk], [MISSING]),
        ("records:result", [report.pk], [MISSING]),
        ("records:image", [report.pk, picture.pk], [MISSING, MISSING]),
    ):
        refused = client.get(reverse(name, args=args))
        missing = client.get(reverse(name, args=missing_args))
        assert_same_as_missing(refused, missing)
    page = client.get(results_url()).content.decode()
    assert "Basic metabolic panel" not in page and "Chest X-ray" not in page
    assert AuditEvent.objects.filter(action="access.refused", actor_id=world.bob_user.pk).exists()


def test_huge_and_odd_ids_are_missing_not_errors(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    assert client.get("/record/results/99999999999999999999999999/").status_code == 404
    assert client.get("/record/results/-1/").status_code == 404
    assert client.get("/record/results/1/images/99999999999999999999999").status_code == 404


def test_unassigned_staff_reach_no_patient_side_record(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    client.force_login(world.unassigned_staff)
    for url in (results_url(), reverse("records:result", args=[report.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("staff:home")
    assert not AuditEvent.objects.filter(action__startswith="records.").exists()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    for url in (results_url(), reverse("records:result", args=[report.pk]), reverse("records:imaging")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
