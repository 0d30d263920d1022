"""The clinic's e-visit conditions in Django admin: questionnaire, red flags, price, reviewers.

Video visits, their participants and chat, and e-visits with their answers and photos
are patient data: like the rest of it they are deliberately not in the admin, where
reads would go unaudited and administrators would see what the access policy keeps from
them. Clinicians work them in the staff workspace (/staff/video/, /staff/e-visits/).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from portal.organization.models import CareTeam
from portal.records.staff_forms import sensitivity_field
from portal.telehealth.models import EVisitCondition

RED_FLAGS_HELP = _(
    "A JSON list of the answers that stop the e-visit, each like "
    '{"linkId": "breathing", "answers": ["yes"], "advice": "emergency", '
    '"message": "Trouble breathing needs care now."}. '
    '"linkId" names a question of the questionnaire; "answers" are "yes" or "no" for a yes-no '
    'question, or an option\'s text (or code) for a choice; "advice" is "emergency" (call the '
    'emergency number now) or "urgent" (go to urgent care today); "message" (at most 500 '
    "characters) is shown to the patient. An empty list [] stops nothing."
)
MESSAGE_MAX = 500
YES_NO = frozenset({"yes", "no"})


class EVisitConditionForm(forms.ModelForm[EVisitCondition]):
    """Checks the red flags against the questionnaire, so a typo cannot stop (or miss) a red flag.

    The confidential category is one the clinic keeps from parents of adolescents
    (`PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES`), or none.
    """

    sensitivity = sensitivity_field()

    class Meta:
        model = EVisitCondition
        fields = [
            "name", "slug", "description", "questionnaire", "red_flags", "asks_for_photos", "min_age",
            "sensitivity", "price_item", "review_team", "active", "position",
        ]  # fmt: skip
        help_texts = {"red_flags": RED_FLAGS_HELP}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        questionnaire, red_flags = cleaned.get("questionnaire"), cleaned.get("red_flags")
        if questionnaire is not None and red_flags is not None:
            problems = red_flag_problems(red_flags, questions_of(questionnaire.items))
            if problems:
                self.add_error("red_flags", problems)
        return cleaned


def questions_of(items: Any) -> dict[str, dict[str, Any]]:
    """The questionnaire's questions by linkId, groups included."""
    return {item["linkId"]: item for item in _walk(items, 0) if isinstance(item.get("linkId"), str)}


def _walk(items: Any, depth: int) -> Iterator[dict[str, Any]]:
    if not isinstance(items, list) or depth > 4:
        return
    for item in items:
        if isinstance(item, dict):
            yield item
            yield from _walk(item.get("item"), depth + 1)


def red_flag_problems(red_flags: Any, questions: dict[str, dict[str, Any]]) -> list[str]:
    """What is wrong with a condition's red flags, in words for the administrator; empty if nothing."""
    if not isinstance(red_flags, list):
        return [str(_("Red flags must be a JSON list, [] for none."))]
    problems: list[str] = []
    for number, flag in enumerate(red_flags, start=1):
        problems += [
            str(_("Red flag %(number)s: %(problem)s")) % {"number": number, "problem": problem}
            for problem in _flag_problems(flag, questions)
        ]
    return problems


def _flag_problems(flag: Any, questions: dict[str, dict[str, Any]]) -> list[str]:
    if not isinstance(flag, dict):
        return [str(_("each red flag must be a JSON object."))]
    problems: list[str] = []
    link_id = flag.get("linkId")
    question = questions.get(link_id) if isinstance(link_id, str) else None
    answers = flag.get("answers")
    if question is None:
        problems.append(str(_("its linkId is not a question of the questionnaire.")))
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        problems.append(str(_('"answers" must be a list of one or more texts.')))
    elif question is not None and not _answerable(question, answers):
        problems.append(str(_("an answer is not one the question can be given.")))
    if flag.get("advice") not in EVisitCondition.Advice.values:
        problems.append(str(_('"advice" must be "emergency" or "urgent".')))
    message = flag.get("message")
    if not isinstance(message, str) or not message.strip() or len(message) > MESSAGE_MAX:
        problems.append(str(_('"message" must be a text of 1 to 500 characters.')))
    return problems


def _answerable(question: dict[str, Any], answers: list[str]) -> bool:
    """Yes-no and choice questions have a fixed set of answers; others match what is typed.

    Compared as `red_flags.match` compares them: case and extra spaces ignored.
    """
    if question.get("type") == "boolean":
        possible = YES_NO
    elif question.get("type") == "choice":
        possible = frozenset(_normal(option) for option in _options(question))
    else:
        return True
    return {_normal(answer) for answer in answers} <= possible


def _options(question: dict[str, Any]) -> Iterator[str]:
    for option in question.get("answerOption") or []:
        if not isinstance(option, dict):
            continue
        if isinstance(option.get("valueString"), str):
            yield option["valueString"]
        coding = option.get("valueCoding")
        if isinstance(coding, dict):
            yield from (str(coding[key]) for key in ("code", "display") if coding.get(key))


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


@admin.register(EVisitCondition)
class EVisitConditionAdmin(admin.ModelAdmin[EVisitCondition]):
    form = EVisitConditionForm
    list_display = [
        "name", "price_item", "review_team", "min_age", "sensitivity", "asks_for_photos", "active", "position",
    ]  # fmt: skip
    list_filter = ["active", "asks_for_photos", "sensitivity", "review_team"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["price_item", "review_team"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Only a clinical care team has clinicians to answer e-visits: a scheduling desk or
        # an office is not offered (and a posted one is refused as an invalid choice).
        if db_field.name == "review_team":
            kwargs["queryset"] = CareTeam.objects.filter(kind=CareTeam.Kind.CLINICAL).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
