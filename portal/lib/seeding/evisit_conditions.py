"""The demo clinic's e-visit conditions: what it treats online, the questions it asks, and when to stop.

Each condition has a questionnaire (slug "evisit-<condition>", FHIR-shaped like every
questionnaire: see `scheduling.models.catalog.Questionnaire`) and red flags: answers that
mean the problem needs the emergency number or urgent care instead of an e-visit (the
format is `telehealth.models.EVisitCondition`'s). Every condition is priced as CPT 99421
(the shortest online evaluation) and answered by the care team the caller names.

Seeded by `portal demo`; conditions and questionnaires are matched by slug and never
overwritten, so what the clinic changes in the admin survives a re-run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from portal.billing.models import PriceItem
from portal.organization.models import CareTeam
from portal.scheduling.models import Questionnaire
from portal.telehealth.models import EVisitCondition

EVISIT_CODE = "99421"
EMERGENCY, URGENT = EVisitCondition.Advice.EMERGENCY, EVisitCondition.Advice.URGENT
YES, NO = "yes", "no"


def _ask(link_id: str, kind: str, text: str, *options: str, required: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": link_id, "text": text, "type": kind, "required": required}
    if options:
        item["answerOption"] = [{"valueString": option} for option in options]
    return item


def _flag(link_id: str, answer: str, advice: str, message: str) -> dict[str, Any]:
    return {"linkId": link_id, "answers": [answer], "advice": str(advice), "message": message}


NOTES = _ask("notes", "text", "Anything else the clinician should know?", required=False)
KEEP_FLUIDS_DOWN = "If you cannot keep fluids down, you need to be seen today."


@dataclass(frozen=True)
class ConditionSpec:
    """An e-visit condition as the demo clinic offers it."""

    slug: str
    name: str
    description: str
    questions: tuple[dict[str, Any], ...]
    red_flags: tuple[dict[str, Any], ...]
    asks_for_photos: bool = False
    min_age: int = 0
    # A confidential category (`PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES`), seeded only if
    # the clinic's settings name it.
    sensitivity: str = ""


COLD_AND_FLU = ConditionSpec(
    "cold-and-flu", "Cold and flu symptoms",
    "Cough, sore throat, runny or blocked nose, fever or body aches for less than three weeks.",
    (
        _ask("days", "integer", "How many days have you had symptoms?"),
        _ask("main", "choice", "What bothers you most?",
             "Cough", "Sore throat", "Runny or blocked nose", "Fever or chills", "Body aches"),
        _ask("fever", "boolean", "Have you had a temperature of 100.4 °F (38 °C) or higher?"),
        _ask("breathing", "boolean", "Are you short of breath or having trouble breathing?"),
        _ask("chest", "boolean", "Do you have pain or pressure in your chest?"),
        _ask("fluids", "boolean", "Can you drink and keep fluids down?"),
        _ask("lungs", "boolean", "Do you have asthma, COPD, heart disease or a weak immune system?"),
        NOTES,
    ),
    (
        _flag("breathing", YES, EMERGENCY, "Trouble breathing needs care now."),
        _flag("chest", YES, EMERGENCY, "Chest pain or pressure needs care now."),
        _flag("fluids", NO, URGENT, KEEP_FLUIDS_DOWN),
    ),
)  # fmt: skip

URINARY = ConditionSpec(
    "urinary-symptoms", "Urinary symptoms",
    "Burning or pain when passing urine, or needing to go often or urgently, in adults.",
    (
        _ask("main", "choice", "What bothers you most?",
             "Burning or pain when passing urine", "Needing to go often or urgently",
             "Cloudy or strong-smelling urine", "Blood in the urine"),
        _ask("days", "integer", "How many days have you had these symptoms?"),
        _ask("fever_flank", "boolean",
             "Have you had a fever for more than 3 days, with pain in your side or back below the ribs?"),
        _ask("vomiting", "boolean", "Are you vomiting, or unable to keep fluids down?"),
        _ask("pregnant", "choice", "Could you be pregnant?", "Yes", "No", "Not sure", "Does not apply"),
        _ask("before", "boolean", "Have you had a urinary infection in the last 12 months?"),
        NOTES,
    ),
    (
        _flag("fever_flank", YES, URGENT,
              "A fever with pain in your side can mean a kidney infection: you need to be seen today."),
        _flag("vomiting", YES, URGENT, KEEP_FLUIDS_DOWN),
    ),
    min_age=18,
    # Burning when passing urine is how a sexually transmitted infection often shows, and
    # the questions ask about pregnancy: sexual health, should the clinic lower the age.
    sensitivity="sexual-health",
)  # fmt: skip

RASH = ConditionSpec(
    "rash", "Rash",
    "A new rash, itchy skin or a skin irritation. Photos help the clinician see it.",
    (
        _ask("where", "choice", "Where is the rash?",
             "Face", "Arms or legs", "Chest, back or belly", "Hands or feet", "In many places"),
        _ask("days", "integer", "How many days have you had it?"),
        _ask("swelling", "boolean", "Are your lips, tongue or face swelling, or is your throat tight?"),
        _ask("fever", "boolean",
             "Do you have a fever, with a rash that is spreading fast, blistering or looks like bruises?"),
        _ask("itch", "choice", "How itchy is it?", "Not at all", "A little", "A lot"),
        _ask("new", "boolean", "Have you started a new medicine, soap or detergent in the last 2 weeks?"),
        NOTES,
    ),
    (
        _flag("swelling", YES, EMERGENCY, "Swelling of the lips, tongue or face needs care now."),
        _flag("fever", YES, URGENT, "A fast-spreading rash with a fever needs to be seen today."),
    ),
    asks_for_photos=True,
)  # fmt: skip

BACK_PAIN = ConditionSpec(
    "back-pain", "Back pain",
    "Pain in the lower or middle back for less than six weeks, without an injury.",
    (
        _ask("days", "integer", "How many days have you had back pain?"),
        _ask("start", "choice", "How did it start?",
             "Lifting, bending or twisting", "A fall or an accident", "No clear reason"),
        _ask("bladder", "boolean",
             "Have you lost control of your bladder or bowels, or gone numb between your legs?"),
        _ask("legs", "boolean", "Is either leg weak, or getting weaker?"),
        _ask("fever", "boolean", "Do you have a fever with the back pain?"),
        _ask("pain", "integer", "How bad is the pain, from 0 (none) to 10 (the worst)?"),
        NOTES,
    ),
    (
        _flag("bladder", YES, EMERGENCY, "Back pain with loss of bladder or bowel control needs care now."),
        _flag("legs", YES, EMERGENCY, "Back pain with weak legs needs care now."),
        _flag("start", "A fall or an accident", URGENT,
              "Back pain after a fall or an accident needs an examination today."),
        _flag("fever", YES, URGENT, "Back pain with a fever needs to be seen today."),
    ),
)  # fmt: skip

CONDITIONS = (COLD_AND_FLU, URINARY, RASH, BACK_PAIN)


def _configured(category: str) -> str:
    """The category if the clinic keeps it from parents of adolescents, else none."""
    return category if category in settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES else ""


def seed_evisit_conditions(review_team: CareTeam) -> int:
    """Add the conditions (and their questionnaires) the clinic does not have yet; returns how many.

    The price list must hold CPT 99421 (`billing_prices.seed_price_list`).
    """
    price = PriceItem.objects.get(code=EVISIT_CODE)
    added = 0
    with transaction.atomic():
        for position, spec in enumerate(CONDITIONS):
            questionnaire, _created = Questionnaire.objects.get_or_create(
                slug=f"evisit-{spec.slug}",
                defaults={
                    "title": spec.name,
                    "description": f"The e-visit questions for {spec.name.lower()}.",
                    "items": list(spec.questions),
                },
            )
            _condition, created = EVisitCondition.objects.get_or_create(
                slug=spec.slug,
                defaults={
                    "name": spec.name,
                    "description": spec.description,
                    "questionnaire": questionnaire,
                    "price_item": price,
                    "review_team": review_team,
                    "red_flags": list(spec.red_flags),
                    "asks_for_photos": spec.asks_for_photos,
                    "min_age": spec.min_age,
                    "sensitivity": _configured(spec.sensitivity),
                    "position": position,
                },
            )
            added += created
    return added
