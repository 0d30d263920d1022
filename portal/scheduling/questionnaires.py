"""Questionnaires as forms: a FHIR Questionnaire's `item` list in, QuestionnaireResponse items out.

A questionnaire's JSON is written by clinic staff, so it is read defensively: an item of
an unknown type, without a linkId, or nested too deep is skipped and logged, never a
crash. The form is flat (one field per question); the layout keeps groups and display
text in order for the template, and the answers are nested back into groups when
converted to FHIR.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.scheduling.models import Questionnaire, QuestionnaireAnswers

logger = logging.getLogger(__name__)

MAX_DEPTH = 4
MAX_QUESTIONS = 200
MAX_STRING = 500
MAX_TEXT = 4000
ANSWER_TYPES = {"string", "text", "boolean", "integer", "decimal", "date", "choice"}
YES, NO = "yes", "no"


@dataclass(frozen=True)
class Question:
    """One answerable item, with the form field name that carries its answer."""

    name: str
    link_id: str
    text: str
    type: str
    required: bool
    options: tuple[dict[str, Any], ...] = ()


@dataclass
class Part:
    """A row of the layout: a question, a piece of display text, or a group of parts."""

    kind: str  # "question", "display" or "group"
    link_id: str
    text: str
    question: Question | None = None
    parts: list[Part] = field(default_factory=list)


@dataclass
class Layout:
    parts: list[Part]
    questions: list[Question]

    def by_name(self) -> dict[str, Question]:
        return {question.name: question for question in self.questions}


def layout_of(questionnaire: Questionnaire) -> Layout:
    """The questionnaire's usable items; anything malformed is skipped and logged."""
    questions: list[Question] = []
    items = questionnaire.items
    if not isinstance(items, list):
        logger.warning("Questionnaire %s: items is not a list", questionnaire.slug)
        items = []
    parts = _parts(questionnaire.slug, items, 0, questions)
    return Layout(parts, questions)


def _parts(slug: str, items: list[Any], depth: int, questions: list[Question]) -> list[Part]:
    parts: list[Part] = []
    for item in items:
        part = _part(slug, item, depth, questions)
        if part is not None:
            parts.append(part)
    return parts


def _part(slug: str, item: Any, depth: int, questions: list[Question]) -> Part | None:
    if not isinstance(item, dict) or not isinstance(item.get("linkId"), str) or not item["linkId"]:
        logger.warning("Questionnaire %s: skipped an item without a linkId", slug)
        return None
    link_id, kind = item["linkId"][:100], item.get("type")
    text = str(item.get("text") or "")[:1000]
    if kind == "display":
        return Part("display", link_id, text)
    if kind == "group":
        nested = item.get("item")
        if depth >= MAX_DEPTH or not isinstance(nested, list):
            logger.warning("Questionnaire %s: skipped group %s (too deep or no items)", slug, link_id)
            return None
        return Part("group", link_id, text, parts=_parts(slug, nested, depth + 1, questions))
    if kind not in ANSWER_TYPES or len(questions) >= MAX_QUESTIONS:
        logger.warning("Questionnaire %s: skipped item %s of type %r", slug, link_id, kind)
        return None
    options = _options(item.get("answerOption")) if kind == "choice" else ()
    if kind == "choice" and not options:
        logger.warning("Questionnaire %s: skipped choice %s without usable options", slug, link_id)
        return None
    question = Question(
        f"q{len(questions)}", link_id, text or link_id, str(kind), item.get("required") is True, options
    )
    questions.append(question)
    return Part("question", link_id, question.text, question=question)


def _options(raw: Any) -> tuple[dict[str, Any], ...]:
    """Options with a valueString, or a valueCoding with a code; others are dropped."""
    if not isinstance(raw, list):
        return ()
    options: list[dict[str, Any]] = []
    for option in raw:
        if not isinstance(option, dict):
            continue
        if isinstance(option.get("valueString"), str) and option["valueString"]:
            options.append({"valueString": option["valueString"][:MAX_STRING]})
        coding = option.get("valueCoding")
        if isinstance(coding, dict) and isinstance(coding.get("code"), str) and coding["code"]:
            options.append(
                {"valueCoding": {k: str(v)[:MAX_STRING] for k, v in coding.items() if k in _CODING}}
            )
    return tuple(options)


_CODING = ("system", "code", "display")


def _option_label(option: dict[str, Any]) -> str:
    if "valueString" in option:
        return str(option["valueString"])
    coding = option["valueCoding"]
    return str(coding.get("display") or coding["code"])


# The form ------------------------------------------------------------------------------------


class QuestionnaireForm(forms.Form):
    """One field per question; `require=False` for "save and finish later"."""

    def __init__(self, *args: Any, layout: Layout, require: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.layout = layout
        for question in layout.questions:
            self.fields[question.name] = _field(question, require and question.required)

    def rows(self) -> Iterator[tuple[str, Any, int]]:
        """(kind, display text or bound field, depth) in order, for the template."""
        yield from self._rows(self.layout.parts, 0)

    def _rows(self, parts: list[Part], depth: int) -> Iterator[tuple[str, Any, int]]:
        for part in parts:
            if part.kind == "question" and part.question is not None:
                yield "question", self[part.question.name], depth
            elif part.kind == "display":
                yield "display", part.text, depth
            elif part.kind == "group":
                yield "group", part.text, depth
                yield from self._rows(part.parts, depth + 1)


def _field(question: Question, required: bool) -> forms.Field:
    common: dict[str, Any] = {"label": question.text, "required": required}
    match question.type:
        case "string":
            return forms.CharField(max_length=MAX_STRING, **common)
        case "text":
            return forms.CharField(max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 4}), **common)
        case "boolean":
            return forms.ChoiceField(
                choices=[(YES, _("Yes")), (NO, _("No"))], widget=forms.RadioSelect, **common
            )
        case "integer":
            return forms.IntegerField(min_value=-(10**9), max_value=10**9, **common)
        case "decimal":
            return forms.DecimalField(max_digits=12, decimal_places=4, **common)
        case "date":
            return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        case _:
            choices = [(str(index), _option_label(option)) for index, option in enumerate(question.options)]
            return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **common)


# Answers <-> QuestionnaireResponse items -----------------------------------------------------


def response_items(form: QuestionnaireForm) -> list[dict[str, Any]]:
    """The cleaned answers as QuestionnaireResponse `item`s, nested like the questionnaire."""
    return _items(form.layout.parts, form.cleaned_data)


def _items(parts: list[Part], data: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for part in parts:
        if part.kind == "group":
            nested = _items(part.parts, data)
            if nested:
                items.append(_labelled({"linkId": part.link_id, "item": nested}, part.text))
        elif part.question is not None:
            answer = _answer(part.question, data.get(part.question.name))
            if answer is not None:
                items.append(_labelled({"linkId": part.link_id, "answer": [answer]}, part.question.text))
    return items


def _labelled(item: dict[str, Any], text: str) -> dict[str, Any]:
    return {**item, "text": text} if text else item


def _answer(question: Question, value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    match question.type:
        case "string" | "text":
            return {"valueString": str(value)}
        case "boolean":
            return {"valueBoolean": value == YES}
        case "integer":
            return {"valueInteger": int(value)}
        case "decimal":
            return {"valueDecimal": float(Decimal(value))}
        case "date":
            return {"valueDate": value.isoformat()}
        case _:
            return dict(question.options[int(value)])


def initial_from(layout: Layout, items: Any) -> dict[str, Any]:
    """Form initial values from saved response items, so a second sitting continues."""
    saved = dict(_saved_answers(items, 0))
    initial: dict[str, Any] = {}
    for question in layout.questions:
        answer = saved.get(question.link_id)
        if isinstance(answer, dict):
            value = _initial_value(question, answer)
            if value is not None:
                initial[question.name] = value
    return initial


def _saved_answers(items: Any, depth: int) -> Iterator[tuple[str, Any]]:
    if not isinstance(items, list) or depth > MAX_DEPTH:
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        answers = item.get("answer")
        if isinstance(answers, list) and answers:
            yield str(item.get("linkId")), answers[0]
        yield from _saved_answers(item.get("item"), depth + 1)


def _initial_value(question: Question, answer: dict[str, Any]) -> Any:
    if question.type == "boolean" and isinstance(answer.get("valueBoolean"), bool):
        return YES if answer["valueBoolean"] else NO
    if question.type == "date" and isinstance(answer.get("valueDate"), str):
        try:
            return dt.date.fromisoformat(answer["valueDate"])
        except ValueError:
            return None
    if question.type == "choice":
        match = next((str(i) for i, option in enumerate(question.options) if option == answer), None)
        return match
    for key in ("valueString", "valueInteger", "valueDecimal"):
        if key in answer:
            return answer[key]
    return None


def to_fhir_questionnaire_response(answers: QuestionnaireAnswers) -> dict[str, Any]:
    """The answers as a FHIR R4 QuestionnaireResponse (validated in the tests with fhir.resources)."""
    questionnaire = answers.questionnaire
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"portal-{answers.pk}",
        "questionnaire": f"Questionnaire/{questionnaire.slug}|{answers.questionnaire_version}",
        "status": answers.status,
        "subject": {"reference": f"Patient/{answers.patient_id}"},
        "authored": (answers.completed_at or answers.updated_at).isoformat(),
    }
    if answers.items:
        response["item"] = answers.items
    return response


def readable(items: Any) -> list[tuple[str, str, int]]:
    """Saved response items as (question, answer, depth) for staff and the patient to read."""
    return list(_readable(items, 0))


def _readable(items: Any, depth: int) -> Iterator[tuple[str, str, int]]:
    if not isinstance(items, list) or depth > MAX_DEPTH:
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        text = str(item.get("text") or item.get("linkId") or "")
        answers = item.get("answer")
        if isinstance(answers, list) and answers and isinstance(answers[0], dict):
            yield text, _answer_text(answers[0]), depth
        elif isinstance(item.get("item"), list):
            yield text, "", depth
            yield from _readable(item["item"], depth + 1)


def _answer_text(answer: dict[str, Any]) -> str:
    if "valueBoolean" in answer:
        return str(_("Yes") if answer["valueBoolean"] else _("No"))
    if isinstance(answer.get("valueCoding"), dict):
        coding = answer["valueCoding"]
        return str(coding.get("display") or coding.get("code") or "")
    for key in ("valueString", "valueInteger", "valueDecimal", "valueDate"):
        if key in answer:
            return str(answer[key])
    return ""
