"""Questionnaires: a FHIR Questionnaire's items as a form, answers as QuestionnaireResponse items."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from portal.scheduling.models import Questionnaire, QuestionnaireAnswers
from portal.scheduling.questionnaires import (
    QuestionnaireForm,
    initial_from,
    layout_of,
    readable,
    response_items,
    to_fhir_questionnaire_response,
)
from portal.test import World

pytestmark = pytest.mark.django_db

ITEMS: list[dict[str, Any]] = [
    {"linkId": "intro", "type": "display", "text": "A few questions about how you are."},
    {"linkId": "reason", "type": "string", "text": "Why are you coming in?", "required": True},
    {"linkId": "story", "type": "text", "text": "Tell us more"},
    {"linkId": "smoker", "type": "boolean", "text": "Do you smoke?", "required": True},
    {
        "linkId": "habits",
        "type": "group",
        "text": "Habits",
        "item": [
            {"linkId": "habits.drinks", "type": "integer", "text": "Drinks a week"},
            {"linkId": "habits.weight", "type": "decimal", "text": "Weight (kg)"},
        ],
    },
    {"linkId": "last-visit", "type": "date", "text": "When did you last see a doctor?"},
    {
        "linkId": "pain",
        "type": "choice",
        "text": "How is your pain?",
        "answerOption": [{"valueString": "None"}, {"valueString": "Some"}, {"valueString": "A lot"}],
    },
    {
        "linkId": "mood",
        "type": "choice",
        "text": "Mood",
        "answerOption": [
            {"valueCoding": {"system": "http://snomed.info/sct", "code": "365107007", "display": "Good"}}
        ],
    },
]
FULL = {
    "q0": "A check-up",
    "q1": "Nothing else",
    "q2": "no",
    "q3": "3",
    "q4": "72.5",
    "q5": "2025-06-01",
    "q6": "1",
    "q7": "0",
}


def make_questionnaire(items: Any = None, slug: str = "health-check") -> Questionnaire:
    return Questionnaire.objects.create(
        slug=slug, title="Health check", version="2", items=ITEMS if items is None else items
    )


def test_every_type_becomes_a_field_in_order() -> None:
    layout = layout_of(Questionnaire(slug="q", items=ITEMS))
    assert [(q.link_id, q.type, q.required) for q in layout.questions] == [
        ("reason", "string", True),
        ("story", "text", False),
        ("smoker", "boolean", True),
        ("habits.drinks", "integer", False),
        ("habits.weight", "decimal", False),
        ("last-visit", "date", False),
        ("pain", "choice", False),
        ("mood", "choice", False),
    ]
    form = QuestionnaireForm(layout=layout)
    assert [kind for kind, _item, _depth in form.rows()] == [
        "display",
        "question",
        "question",
        "question",
        "group",
        "question",
        "question",
        "question",
        "question",
        "question",
    ]


def test_answers_become_response_items_nested_like_the_questionnaire() -> None:
    form = QuestionnaireForm(FULL, layout=layout_of(Questionnaire(slug="q", items=ITEMS)))
    assert form.is_valid(), form.errors
    items = response_items(form)
    answers = {item["linkId"]: item.get("answer", item.get("item")) for item in items}
    assert answers["reason"] == [{"valueString": "A check-up"}]
    assert answers["smoker"] == [{"valueBoolean": False}]
    assert answers["habits"] == [
        {"linkId": "habits.drinks", "text": "Drinks a week", "answer": [{"valueInteger": 3}]},
        {"linkId": "habits.weight", "text": "Weight (kg)", "answer": [{"valueDecimal": 72.5}]},
    ]
    assert answers["last-visit"] == [{"valueDate": "2025-06-01"}]
    assert answers["pain"] == [{"valueString": "Some"}]
    assert answers["mood"] == [
        {"valueCoding": {"system": "http://snomed.info/sct", "code": "365107007", "display": "Good"}}
    ]
    assert "intro" not in answers


def test_required_questions_are_checked_only_when_submitting() -> None:
    layout = layout_of(Questionnaire(slug="q", items=ITEMS))
    partial = {"q0": "A check-up"}
    submitting = QuestionnaireForm(partial, layout=layout)
    assert not submitting.is_valid()
    assert set(submitting.errors) == {"q2"}
    saving = QuestionnaireForm(partial, layout=layout, require=False)
    assert saving.is_valid()
    assert response_items(saving) == [
        {"linkId": "reason", "text": "Why are you coming in?", "answer": [{"valueString": "A check-up"}]}
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("q3", "three"),
        ("q3", "99999999999"),
        ("q4", "1e400"),
        ("q5", "2025-13-45"),
        ("q6", "7"),
        ("q2", "maybe"),
        ("q0", "x" * 501),
    ],
)
def test_bad_answers_are_refused_even_when_saving_for_later(field: str, value: str) -> None:
    form = QuestionnaireForm(
        {**FULL, field: value}, layout=layout_of(Questionnaire(slug="q", items=ITEMS)), require=False
    )
    assert not form.is_valid()
    assert field in form.errors


def test_saved_answers_fill_the_form_again() -> None:
    layout = layout_of(Questionnaire(slug="q", items=ITEMS))
    form = QuestionnaireForm(FULL, layout=layout)
    assert form.is_valid()
    initial = initial_from(layout, response_items(form))
    assert initial == {
        "q0": "A check-up",
        "q1": "Nothing else",
        "q2": "no",
        "q3": 3,
        "q4": 72.5,
        "q5": dt.date(2025, 6, 1),
        "q6": "1",
        "q7": "0",
    }
    assert initial_from(layout, "not a list") == {}
    assert initial_from(layout, [{"linkId": "last-visit", "answer": [{"valueDate": "yesterday"}]}]) == {}


@pytest.mark.parametrize(
    "items",
    [
        "not a list",
        {"linkId": "x"},
        [None, 3, "text", {"type": "string"}, {"linkId": "", "type": "string"}],
        [{"linkId": "odd", "type": "attachment"}, {"linkId": "c", "type": "choice", "answerOption": "none"}],
        [{"linkId": "g", "type": "group", "item": "nope"}],
        [{"linkId": "c", "type": "choice", "answerOption": [{"valueInteger": 1}, None]}],
    ],
)
def test_malformed_items_are_skipped_and_logged(items: Any, caplog: pytest.LogCaptureFixture) -> None:
    layout = layout_of(Questionnaire(slug="broken", items=items))
    assert layout.questions == []
    assert "broken" in caplog.text
    assert QuestionnaireForm({}, layout=layout).is_valid()


def test_a_good_question_survives_its_broken_neighbours() -> None:
    items = [{"linkId": "odd", "type": "attachment"}, {"linkId": "ok", "type": "string", "text": "Fine"}]
    assert [q.link_id for q in layout_of(Questionnaire(slug="q", items=items)).questions] == ["ok"]


def test_groups_nested_too_deep_are_cut_off() -> None:
    item: dict[str, Any] = {"linkId": "leaf", "type": "string"}
    for depth in range(10):
        item = {"linkId": f"g{depth}", "type": "group", "item": [item]}
    assert layout_of(Questionnaire(slug="q", items=[item])).questions == []


def test_answers_are_a_valid_fhir_questionnaire_response(world: World) -> None:
    questionnaire = make_questionnaire()
    form = QuestionnaireForm(FULL, layout=layout_of(questionnaire))
    assert form.is_valid()
    answers = QuestionnaireAnswers.objects.create(
        patient=world.alice,
        questionnaire=questionnaire,
        questionnaire_version="2",
        items=response_items(form),
        status=QuestionnaireAnswers.Status.COMPLETED,
    )
    answers.refresh_from_db()
    resource = to_fhir_questionnaire_response(answers)
    parsed = QuestionnaireResponse.model_validate(resource)
    assert parsed.status == "completed"
    assert parsed.questionnaire == "Questionnaire/health-check|2"
    assert resource["subject"] == {"reference": f"Patient/{world.alice.pk}"}
    back = parsed.model_dump(mode="json")
    assert back["item"][0]["answer"] == [{"valueString": "A check-up"}]
    assert back["item"][3]["item"][1]["answer"] == [{"valueDecimal": 72.5}]


def test_an_unanswered_in_progress_response_is_valid_fhir_too(world: World) -> None:
    answers = QuestionnaireAnswers.objects.create(
        patient=world.alice, questionnaire=make_questionnaire(), questionnaire_version="2", items=[]
    )
    resource = to_fhir_questionnaire_response(answers)
    assert "item" not in resource
    assert QuestionnaireResponse.model_validate(resource).status == "in-progress"


def test_readable_answers_for_staff() -> None:
    form = QuestionnaireForm(FULL, layout=layout_of(Questionnaire(slug="q", items=ITEMS)))
    assert form.is_valid()
    rows = readable(response_items(form))
    assert ("Do you smoke?", "No", 0) in rows
    assert ("Habits", "", 0) in rows
    assert ("Drinks a week", "3", 1) in rows
    assert ("Mood", "Good", 0) in rows
    assert readable({"bad": "data"}) == []
