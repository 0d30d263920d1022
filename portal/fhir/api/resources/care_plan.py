"""CarePlan: what the clinician asked the patient to do after a visit, as US Core CarePlan.

A visit's after-visit summary holds its instructions and follow-up; each visit that has
either is served as one assessment-and-plan CarePlan (`visitplan-<visit pk>`), the text in
its narrative. The portal does not follow a plan once written, so its status is
`unknown` (`revoked` for a cancelled visit). Rows are the visits `records.access.visible`
gives, so a visit hidden from a parent hides its plan too.

The portal records no goals, so Goal is not served.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.html import escape, linebreaks

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.refs import patient_reference
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import patient_time, practitioner_reference
from portal.fhir.mapping.common import clean, moment_text
from portal.records.access import visible
from portal.records.models import Encounter

CATEGORY_SYSTEM = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
STATUS_SYSTEM = "http://hl7.org/fhir/request-status"
INTENT_SYSTEM = "http://hl7.org/fhir/request-intent"
STATUSES = {
    "unknown": [Encounter.Status.FINISHED, Encounter.Status.IN_PROGRESS],
    "revoked": [Encounter.Status.CANCELLED],
}


def rows(grant: ApiGrant) -> models.QuerySet[Encounter]:
    with_plan = ~Q(instructions="") | ~Q(follow_up="")
    return visible(Encounter, grant.access).filter(with_plan)


def _narrative(row: Encounter) -> str:
    sections = [("Instructions", row.instructions), ("Follow-up", row.follow_up)]
    html = "".join(
        f"<h3>{escape(title)}</h3>{linebreaks(text, autoescape=True)}"
        for title, text in sections
        if text.strip()
    )
    # FHIR narrative is XHTML: a <br> must close itself.
    html = html.replace("<br>", "<br/>")
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{html}</div>'


def to_fhir(row: Encounter, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        start, end = moment_text(row.started_at), moment_text(row.ended_at)
    status = "revoked" if row.status == Encounter.Status.CANCELLED else "unknown"
    author = practitioner_reference(row.practitioner_id, row.practitioner_name)
    return clean(
        {
            "resourceType": "CarePlan",
            "id": f"visitplan-{row.pk}",
            "meta": {
                "profile": [codes.US_CORE + "us-core-careplan"],
                "security": codes.security_labels(row.sensitivity),
            },
            "text": {"status": "additional", "div": _narrative(row)},
            "status": status,
            "intent": "plan",
            "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "assess-plan"}]}],
            "title": f"After your {row.get_kind_display().lower()} on {start[:10] if start else ''}".strip(),
            "description": row.instructions or row.follow_up,
            "subject": {"reference": patient_reference(grant.patient)},
            "encounter": {"reference": f"Encounter/encounter-{row.pk}"},
            "period": {"start": start},
            "created": end or start,
            "author": author or {"display": row.practitioner_name},
            "note": [{"text": f"Follow-up: {row.follow_up}"}] if row.follow_up and row.instructions else [],
        }
    )


CARE_PLAN = registry.register(
    registry.ResourceType(
        name="CarePlan",
        profiles=(codes.US_CORE + "us-core-careplan",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="visitplan",
        default_order=("-started_at", "-id"),
        sorts={"date": ("started_at", "id")},
        search_params={
            "patient": registry.SearchParam(
                "patient",
                "reference",
                search.patient_reference(),
                "The patient (Patient/<id>)",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-careplan-patient",
            ),
            "category": registry.SearchParam(
                "category",
                "token",
                search.constant_token(["assess-plan"], CATEGORY_SYSTEM),
                "assess-plan (every plan is a visit's assessment and plan)",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-careplan-category",
            ),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {STATUS_SYSTEM: STATUSES}),
                "unknown (the portal does not follow a plan once written) | revoked (a cancelled visit)",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-careplan-status",
            ),
            "date": registry.SearchParam(
                "date",
                "date",
                search.date_param("started_at", is_datetime=True),
                "when the visit the plan comes from started",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-careplan-date",
            ),
            "intent": registry.SearchParam(
                "intent", "token", search.constant_token(["plan"], INTENT_SYSTEM), "plan"
            ),
        },
    )
)
