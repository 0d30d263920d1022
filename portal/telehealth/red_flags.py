"""Red-flag answers: the answers to an e-visit's questions that mean it cannot wait for one.

A condition's `red_flags` are written by clinic staff, so they are read defensively: an
entry that is not a dict, names no question, lists no answers, or gives an advice we do
not know is skipped and logged, never a crash and never a silent "no red flag" for the
well-formed entries beside it. Answers are compared as the patient would read them:
"yes"/"no" for a yes-no question, an option's text or code for a choice, the text typed
for a text question (case and surrounding spaces ignored).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from portal.telehealth.models import EVisitCondition

logger = logging.getLogger(__name__)

MAX_DEPTH = 4
Advice = EVisitCondition.Advice
# When several red flags match, the most urgent advice wins.
URGENCY = {Advice.EMERGENCY.value: 0, Advice.URGENT.value: 1}


@dataclass(frozen=True)
class RedFlag:
    """One usable red-flag entry: a question, the answers that stop, and what to do instead."""

    link_id: str
    answers: frozenset[str]
    advice: str
    message: str


def red_flags_of(condition: EVisitCondition) -> list[RedFlag]:
    """The condition's well-formed red flags; malformed entries are skipped and logged."""
    raw = condition.red_flags
    if not isinstance(raw, list):
        logger.warning("E-visit condition %s: red_flags is not a list", condition.slug)
        return []
    flags = [_flag(condition.slug, position, entry) for position, entry in enumerate(raw)]
    return [flag for flag in flags if flag is not None]


def _flag(slug: str, position: int, entry: Any) -> RedFlag | None:
    if not isinstance(entry, dict):
        logger.warning("E-visit condition %s: red flag %d is not an object", slug, position)
        return None
    link_id, answers, advice = entry.get("linkId"), entry.get("answers"), entry.get("advice")
    message = entry.get("message", "")
    if not (
        isinstance(link_id, str)
        and link_id
        and isinstance(answers, list)
        and answers
        and all(isinstance(answer, str) for answer in answers)
        and isinstance(advice, str)
        and advice in URGENCY
    ):
        logger.warning("E-visit condition %s: skipped malformed red flag %d", slug, position)
        return None
    if not isinstance(message, str):
        logger.warning("E-visit condition %s: red flag %d has a message that is not text", slug, position)
        message = ""
    return RedFlag(link_id, frozenset(_normal(answer) for answer in answers), advice, message[:500])


def match(condition: EVisitCondition, items: Any) -> RedFlag | None:
    """The most urgent red flag the answers (QuestionnaireResponse items) raise, or None."""
    given: dict[str, set[str]] = {}
    for link_id, words in _answers(items, 0):
        given.setdefault(link_id, set()).update(words)
    raised = [flag for flag in red_flags_of(condition) if flag.answers & given.get(flag.link_id, set())]
    return min(raised, key=lambda flag: URGENCY[flag.advice], default=None)


def _answers(items: Any, depth: int) -> Iterator[tuple[str, set[str]]]:
    """(linkId, the ways the answer may be named) for every answered item, groups included."""
    if not isinstance(items, list) or depth > MAX_DEPTH:
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        answers = item.get("answer")
        if isinstance(answers, list) and isinstance(item.get("linkId"), str):
            words: set[str] = set()
            for answer in answers:
                words |= _names(answer)
            yield item["linkId"], words
        yield from _answers(item.get("item"), depth + 1)


def _names(answer: Any) -> set[str]:
    if not isinstance(answer, dict):
        return set()
    if isinstance(answer.get("valueBoolean"), bool):
        return {"yes" if answer["valueBoolean"] else "no"}
    coding = answer.get("valueCoding")
    if isinstance(coding, dict):
        return {_normal(str(coding[key])) for key in ("code", "display") if coding.get(key)}
    for key in ("valueString", "valueInteger", "valueDecimal", "valueDate"):
        if key in answer and not isinstance(answer[key], bool | dict | list):
            return {_normal(str(answer[key]))}
    return set()


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()
