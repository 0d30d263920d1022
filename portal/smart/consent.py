"""What an app asks for, in plain words, for the consent screen and the connected-apps page.

Each resource scope becomes one sentence ("Read your lab results and vital signs"); a
granular v2 restriction (`?category=laboratory`) narrows the words where we know it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.smart import scopes as smart_scopes

# What each FHIR resource type holds, as a patient would say it.
RESOURCE_WORDS: dict[str, Promise] = {
    "*": _("everything in your record"),
    "Patient": _("your name, date of birth and contact details"),
    "Observation": _("your lab results and vital signs"),
    "DiagnosticReport": _("your test reports"),
    "DocumentReference": _("your documents and clinical notes"),
    "Binary": _("the files attached to your record"),
    "MedicationRequest": _("your medicines"),
    "AllergyIntolerance": _("your allergies"),
    "Immunization": _("your vaccinations"),
    "Condition": _("your health problems and diagnoses"),
    "Encounter": _("your visits"),
    "Procedure": _("your procedures"),
    "CareTeam": _("your care team"),
    "Practitioner": _("the clinicians who care for you"),
    "Organization": _("the clinics that care for you"),
    "Location": _("the places you are seen"),
    "Coverage": _("your insurance"),
    "Appointment": _("your appointments"),
    "Goal": _("your health goals"),
    "CarePlan": _("your care plans"),
    "Provenance": _("where the information in your record came from"),
}

# Observation categories a v2 scope may restrict to.
CATEGORY_WORDS: dict[str, Promise] = {
    "laboratory": _("your lab results"),
    "vital-signs": _("your vital signs"),
    "social-history": _("your social history"),
    "survey": _("your questionnaire answers"),
    "exam": _("your examination findings"),
    "imaging": _("your imaging results"),
}

CONTEXT_WORDS: dict[str, Promise] = {
    "launch/patient": _("Know whose record it is connected to"),
    "openid": _("Confirm who you are"),
    "fhirUser": _("Know which record you signed in for"),
    "offline_access": _("Keep its access when you are not using it, until you disconnect it"),
    "online_access": _("Keep its access while you are using it"),
}


@dataclass(frozen=True)
class ScopeChoice:
    """One line on the consent screen: the scope as granted and its words."""

    value: str
    label: str
    resource: bool


def describe_resource(scope: smart_scopes.ResourceScope) -> str:
    known = RESOURCE_WORDS.get(scope.resource_type)
    what = (
        str(known) if known is not None else str(_("your %(type)s records") % {"type": scope.resource_type})
    )
    restricted = dict(scope.query)
    category = restricted.get("category", "").rpartition("|")[2]
    if category in CATEGORY_WORDS and scope.resource_type in ("Observation", "*"):
        what = str(CATEGORY_WORDS[category])
    elif restricted:
        return str(_("Read some of %(what)s") % {"what": what})
    if scope.read and not scope.search:
        return str(_("Read items of %(what)s it already knows about") % {"what": what})
    return str(_("Read %(what)s") % {"what": what})


def describe_scope(scope: str) -> str:
    if scope in CONTEXT_WORDS:
        return str(CONTEXT_WORDS[scope])
    parsed = smart_scopes.parse(scope)
    if parsed.resources:
        return describe_resource(parsed.resources[0])
    return str(_("Nothing more (the portal does not grant “%(scope)s”)") % {"scope": scope[:100]})


def choices(requested: smart_scopes.Scopes) -> list[ScopeChoice]:
    """The resource scopes, then the context scopes, each a box the person may untick.

    `launch/patient` is not offered: the app is always told the one patient chosen.
    """
    # v1 `patient/Observation.read` and v2 `patient/Observation.rs` are the same grant.
    unique = [
        ScopeChoice(scope.text(), describe_resource(scope), True)
        for scope in dict.fromkeys(requested.resources)
    ]
    context = [
        ScopeChoice(name, str(CONTEXT_WORDS[name]), False)
        for name in sorted(requested.context)
        if name in CONTEXT_WORDS and name != "launch/patient"
    ]
    return unique + context
