"""Red-flag answers stop an e-visit: matched by yes/no, option text or code; bad entries skipped, logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.scheduling.models import Questionnaire
from portal.telehealth.models import EVisit, EVisitCondition
from portal.telehealth.red_flags import match, red_flags_of
from portal.telehealth.tests.support import TelehealthWorld, client_for, telehealth_world
from portal.test import World

pytestmark = pytest.mark.django_db

ANSWERS_OK = {"q0": "3", "q1": "no", "q2": "no", "q3": ""}


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def condition_with(flags: Any) -> EVisitCondition:
    """An unsaved condition: matching reads only its red flags."""
    return EVisitCondition(slug="test", name="Test", red_flags=flags)


def boolean(link_id: str, value: bool) -> dict[str, Any]:
    return {"linkId": link_id, "answer": [{"valueBoolean": value}]}


def flag(
    link_id: str, *answers: str, advice: str = "urgent", message: str = "Be seen today."
) -> dict[str, Any]:
    return {"linkId": link_id, "answers": list(answers), "advice": advice, "message": message}


# Matching --------------------------------------------------------------------------------------


def test_a_yes_answer_matches_a_yes_flag_and_no_does_not() -> None:
    condition = condition_with([flag("breathing", "yes", advice="emergency", message="Call now.")])
    found = match(condition, [boolean("breathing", True)])
    assert found is not None and found.advice == "emergency" and found.message == "Call now."
    assert match(condition, [boolean("breathing", False)]) is None
    assert match(condition, []) is None


def test_a_no_flag_matches_a_no_answer() -> None:
    condition = condition_with([flag("fluids", "no")])
    assert match(condition, [boolean("fluids", False)]) is not None
    assert match(condition, [boolean("fluids", True)]) is None


def test_a_choice_matches_by_option_text_or_code_whatever_the_case() -> None:
    by_text = condition_with([flag("pain", "Worst pain of my life")])
    by_code = condition_with([flag("pain", "severe")])
    text_answer = [{"linkId": "pain", "answer": [{"valueString": "worst pain of my  life"}]}]
    coded = [{"linkId": "pain", "answer": [{"valueCoding": {"code": "severe", "display": "Very bad"}}]}]
    assert match(by_text, text_answer) is not None
    assert match(by_code, coded) is not None
    assert match(condition_with([flag("pain", "very bad")]), coded) is not None
    assert match(by_code, text_answer) is None


def test_answers_inside_groups_are_found() -> None:
    condition = condition_with([flag("breathing", "yes")])
    nested = [{"linkId": "group", "item": [{"linkId": "inner", "item": [boolean("breathing", True)]}]}]
    assert match(condition, nested) is not None


def test_the_most_urgent_of_several_flags_wins() -> None:
    condition = condition_with(
        [flag("fluids", "no", advice="urgent"), flag("chest", "yes", advice="emergency", message="Chest.")]
    )
    found = match(condition, [boolean("fluids", False), boolean("chest", True)])
    assert found is not None and found.advice == "emergency" and found.message == "Chest."


@pytest.mark.parametrize(
    "bad",
    [
        "not an object",
        {"answers": ["yes"], "advice": "urgent"},  # no question
        {"linkId": "x", "answers": "yes", "advice": "urgent"},  # answers not a list
        {"linkId": "x", "answers": [], "advice": "urgent"},
        {"linkId": "x", "answers": [1], "advice": "urgent"},
        {"linkId": "x", "answers": ["yes"], "advice": "soon"},  # unknown advice
        {"linkId": "x", "answers": ["yes"], "advice": ["urgent"]},
        {"linkId": ["x"], "answers": ["yes"], "advice": "urgent"},
    ],
)
def test_malformed_entries_are_skipped_and_logged_but_good_ones_still_stop(
    bad: Any, caplog: pytest.LogCaptureFixture
) -> None:
    condition = condition_with([bad, flag("breathing", "yes")])
    with caplog.at_level(logging.WARNING, logger="portal.telehealth.red_flags"):
        flags = red_flags_of(condition)
    assert [f.link_id for f in flags] == ["breathing"]
    assert "skipped" in caplog.text or "not an object" in caplog.text
    assert match(condition, [boolean("breathing", True), boolean("x", True)]) is not None


@pytest.mark.parametrize("flags", [None, "breathing", {"linkId": "breathing"}, 7])
def test_red_flags_that_are_not_a_list_raise_nothing(flags: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="portal.telehealth.red_flags"):
        assert match(condition_with(flags), [boolean("breathing", True)]) is None
    assert "not a list" in caplog.text


@pytest.mark.parametrize(
    "items",
    [None, "text", [None, 3, "x"], [{"linkId": "breathing", "answer": "yes"}], [{"answer": [{}]}]],
)
def test_odd_answers_raise_nothing(items: Any) -> None:
    assert match(condition_with([flag("breathing", "yes")]), items) is None


# Through the pages -----------------------------------------------------------------------------


def answer(tw: TelehealthWorld, who: str = "patient", **changes: str) -> Any:
    client = client_for(tw.world.persona(who))
    url = reverse("evisits:questionnaire", args=[tw.condition.slug])
    return client, client.post(url, {**ANSWERS_OK, **changes})


def test_a_red_flag_answer_stops_the_evisit_and_says_call_the_emergency_number(tw: TelehealthWorld) -> None:
    client, response = answer(tw, q2="yes")
    evisit = EVisit.objects.get()
    assert evisit.status == EVisit.Status.STOPPED
    assert evisit.red_flag_advice == "emergency"
    assert evisit.red_flag_message == "Trouble breathing needs care now."
    assert response.status_code == 302 and response["Location"] == reverse("evisits:detail", args=[evisit.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Call 911 now" in page
    assert "Trouble breathing needs care now." in page
    assert "507-555-0100" in page  # the campus phone
    assert "was not sent" in page
    assert reverse("evisits:submit", args=[evisit.pk]) not in page
    assert "Send the e-visit" not in page
    stopped = AuditEvent.objects.get(action="telehealth.evisit_stopped")
    assert stopped.detail["advice"] == "emergency" and stopped.object_id == str(evisit.pk)


def test_nothing_is_sent_from_a_stopped_evisit(tw: TelehealthWorld) -> None:
    client, _response = answer(tw, q2="yes")
    evisit = EVisit.objects.get()
    refused = client.post(reverse("evisits:submit", args=[evisit.pk]), follow=True)
    assert "can no longer be sent" in refused.content.decode()
    evisit.refresh_from_db()
    assert evisit.status == EVisit.Status.STOPPED and evisit.submitted_at is None
    assert not Notification.objects.filter(for_staff=True).exists()
    assert not AuditEvent.objects.filter(action="telehealth.evisit_submit").exists()


def test_an_urgent_flag_sends_the_patient_to_urgent_care_today(tw: TelehealthWorld) -> None:
    tw.condition.red_flags = [
        flag("fever", "yes", advice="urgent", message="A fever this long needs a look.")
    ]
    tw.condition.save(update_fields=["red_flags"])
    client, response = answer(tw, "proxy", q1="yes")
    assert EVisit.objects.get().status == EVisit.Status.STOPPED
    page = client.get(response["Location"]).content.decode()
    assert "Go to urgent care today" in page and "A fever this long needs a look." in page
    assert "Call 911 now" not in page


def test_a_choice_question_stops_by_its_option_text(tw: TelehealthWorld) -> None:
    questionnaire = Questionnaire.objects.create(
        slug="evisit-rash",
        title="Rash",
        items=[
            {
                "linkId": "spread",
                "text": "How is it spreading?",
                "type": "choice",
                "required": True,
                "answerOption": [{"valueString": "Not spreading"}, {"valueString": "Spreading fast"}],
            }
        ],
    )
    EVisitCondition.objects.create(
        slug="rash",
        name="Rash",
        description="Skin rash.",
        questionnaire=questionnaire,
        price_item=tw.condition.price_item,
        review_team=tw.world.care_team,
        red_flags=[flag("spread", "Spreading fast", advice="urgent"), "garbage"],
    )
    client = client_for(tw.world.alice_user)
    client.post(reverse("evisits:questionnaire", args=["rash"]), {"q0": "0"})
    client.post(reverse("evisits:questionnaire", args=["rash"]), {"q0": "1"})
    assert list(EVisit.objects.order_by("id").values_list("status", flat=True)) == ["draft", "stopped"]
