"""What `$export` reads for each resource type: the patient API's rows, for many patients at once.

The patient API lists one patient's rows through `records/access.py` (`ResourceType.rows`).
Calling that once per patient would cost a query per patient and type (millions for the
organisation), so each type here has a multi-patient equivalent: one queryset over all
member patients that applies the rules of the patient's own view (`Role.SELF`: every scope,
no hidden categories), which is what a patient could fetch through an app they connected:

- results only once released to the patient (`available_at` has passed) and, in a
  category the patient chose to see only after review, once reviewed: the per-patient
  `released_to_patient` becomes a correlated `NOT EXISTS` on the row's own patient's
  `ReleasePreference`, so every patient's own choice applies in the same query;
- observations of a report only under the same rule; stand-alone ones (vitals) always;
- nothing is hidden by `filter_confidential`: it hides categories only from a proxy, and
  the patient sees their own confidential care.

Rows are then mapped by the registered type's own `to_fhir`, so a resource in an export
is byte for byte the one the patient API serves (tests compare the two for every type).
Two deliberate differences, both from the Bulk Data IG: Binary is not exported (patient
content SHALL travel as DocumentReference), so DocumentReference carries the note's text
inline (`attachment.data`) instead of a relative `Binary/...` URL a backend service could
not read; and Practitioner and Location, shared by many patients, are written once each.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone

from portal.bulk.groups import Membership
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.registry import ResourceType, resource_types
from portal.fhir.api.resources._refs import with_visit
from portal.fhir.api.search import parts_of
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.models import CareRelationship, Coverage, Patient
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Document,
    Encounter,
    Immunization,
    Medication,
    Observation,
    Problem,
    Procedure,
    ReleasePreference,
    ResultReport,
)
from portal.scheduling.models import Appointment

log = logging.getLogger(__name__)
# Types the API serves that an export leaves out, and why (answered to a `_type` asking for one).
NOT_EXPORTED = {"Binary": "Binary is not exported: a note's text is inline in its DocumentReference."}


@dataclass(frozen=True)
class Window:
    """What one export reads: whose rows, changed after `since`, as of `at` (the transaction time)."""

    members: Membership
    at: dt.datetime
    since: dt.datetime | None = None
    # (k, n): only the patients whose id is k modulo n (one of n processes writing the export).
    shard: tuple[int, int] = (0, 1)


@dataclass(frozen=True)
class Source:
    """How one part of a resource type (`search.parts_of`: its own model and id prefix) is read."""

    name: str
    part: str  # the part's id prefix ("clinicalnote", "document")
    rows: Callable[[Window], models.QuerySet[Any]]
    # The patient a row belongs to, for the mapper's grant (None: the row has no patient).
    patient_of: Callable[[Any], int] | None = lambda row: row.patient_id
    # The row's patient as a column, to split the rows between processes.
    patient_column: str = "patient_id"
    # Turns the queryset's rows into the objects `to_fhir` takes (CareTeam: one per patient).
    items: Callable[[Iterator[Any]], Iterator[Any]] | None = None
    # Adjusts a mapped resource for a backend reader (DocumentReference's inline content).
    finish: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
    # True when its resources are about patients (their export is audited per patient).
    patient_data: bool = True


def _of(queryset: models.QuerySet[Any], window: Window, field: str = "patient") -> models.QuerySet[Any]:
    """The rows of the member patients; everyone's when the export is of every patient."""
    if window.members is None:
        return queryset
    return queryset.filter(**{f"{field}__in": window.members.values("pk")})


def released(window: Window, prefix: str = "") -> Q:
    """`records.access.released_to_patient` for the rows of many patients at once.

    Released (`available_at` passed) and either reviewed or in a category the row's own
    patient did not ask to see only after review.
    """
    waits = ReleasePreference.objects.filter(
        patient_id=OuterRef(f"{prefix}patient_id"),
        category=OuterRef(f"{prefix}category"),
        wait_for_review=True,
    )
    return Q(**{f"{prefix}available_at__lte": window.at}) & (
        Q(**{f"{prefix}reviewed_at__isnull": False}) | Q(~Exists(waits))
    )


# Rows per type --------------------------------------------------------------------------


def _patients(window: Window) -> models.QuerySet[Patient]:
    return _of(Patient.objects.all(), window, "pk")


def _record(
    model: type[models.Model], *related: str, visit: bool = False
) -> Callable[[Window], models.QuerySet[Any]]:
    """A record model's rows as `visible(model, access)` gives them to the patient themself."""

    def rows(window: Window) -> models.QuerySet[Any]:
        queryset = _of(model._default_manager.all(), window)
        queryset = queryset.select_related(*related) if related else queryset
        return with_visit(queryset) if visit else queryset

    return rows


def _care_plans(window: Window) -> models.QuerySet[Encounter]:
    # As `care_plan.rows`: a visit with instructions or a follow-up is a plan.
    return _of(Encounter.objects.all(), window).filter(~Q(instructions="") | ~Q(follow_up=""))


def _observations(window: Window) -> models.QuerySet[Observation]:
    return _of(Observation.objects.all(), window).filter(
        Q(report__isnull=True) | released(window, "report__")
    )


def _reports(window: Window) -> models.QuerySet[ResultReport]:
    # The report's values, as its `rows(grant)` prefetches them: a visible report's values are visible.
    values = Observation.objects.order_by("position", "id").only("id", "report_id")
    rows = with_visit(_of(ResultReport.objects.all(), window).filter(released(window)))
    return rows.prefetch_related(Prefetch("observations", queryset=values, to_attr="api_results"))


def _appointments(window: Window) -> models.QuerySet[Appointment]:
    related = ("visit_type", "practitioner", "campus", "department")
    return _of(Appointment.objects.all(), window).select_related(*related)


def _care_relationships(window: Window) -> models.QuerySet[CareRelationship]:
    rows = _of(CareRelationship.objects.all(), window).select_related("care_team__campus")
    return rows.order_by("patient_id", "care_team_id", "starts_on", "id")


def _care_teams(relationships: Iterator[CareRelationship]) -> Iterator[CareTeam]:
    """One CareTeam per patient and team, shaped as `care_team.rows(grant)` shapes it."""
    today = timezone.localdate()
    batch: list[CareRelationship] = []
    for relationship in relationships:
        if batch and (batch[0].patient_id, batch[0].care_team_id) != (
            relationship.patient_id,
            relationship.care_team_id,
        ):
            yield _team(batch, today)
            batch = []
        batch.append(relationship)
    if batch:
        yield _team(batch, today)


def _team(relationships: list[CareRelationship], today: dt.date) -> CareTeam:
    # A copy per patient: the same team reads differently for each (its members, active or not).
    team = copy.copy(relationships[0].care_team)
    team.__dict__.update(
        bulk_patient_id=relationships[0].patient_id,
        api_relationships=relationships,
        api_active=any(item.ends_on is None or item.ends_on >= today for item in relationships),
    )
    return team


def _practitioners(window: Window) -> models.QuerySet[Practitioner]:
    """The clinicians of the members' care: care relationships, visits, notes, prescriptions, appointments."""
    named_in: list[tuple[models.QuerySet[Any], str]] = [
        (CareRelationship.objects.all(), "practitioner_id"),
        (Encounter.objects.all(), "practitioner_id"),
        (ClinicalNote.objects.all(), "author_id"),
        (Medication.objects.all(), "prescriber_id"),
        (Appointment.objects.all(), "practitioner_id"),
    ]
    seen = Q(pk__in=[])
    for rows, field_name in named_in:
        seen |= Q(pk__in=_of(rows.filter(**{f"{field_name}__isnull": False}), window).values(field_name))
    return Practitioner.objects.filter(seen).order_by("pk")


def _locations(window: Window) -> models.QuerySet[Campus]:
    """The campuses of the members' care: home campus, care teams, visits, procedures, vaccines, appointments."""
    homes = _of(Patient.objects.all(), window, "pk").values("primary_campus_id")
    relationships = _of(CareRelationship.objects.all(), window).values("care_team_id")
    seen = Q(pk__in=homes) | Q(pk__in=CareTeam.objects.filter(pk__in=relationships).values("campus_id"))
    for model in (Encounter, Procedure, Immunization, Appointment):
        seen |= Q(pk__in=_of(model._default_manager.filter(campus__isnull=False), window).values("campus_id"))
    return Campus.objects.filter(seen).order_by("pk")


def _organizations(window: Window) -> models.QuerySet[Campus]:
    # As `organization.rows`: every campus is an Organization anyone's record may name.
    return Campus.objects.order_by("pk")


# Content travels inside the resource (the IG: `data`, or a URL the reader can fetch; the
# patient API's relative Binary/... URL is one a backend service cannot read).


def _inline(resource: dict[str, Any], data: bytes | None) -> dict[str, Any]:
    attachment = resource["content"][0]["attachment"]
    attachment.pop("url", None)
    if data is not None:
        attachment["data"] = base64.b64encode(data).decode()
    return resource


def _note_text(resource: dict[str, Any], note: ClinicalNote) -> dict[str, Any]:
    return _inline(resource, note.body.encode())


def _document_file(resource: dict[str, Any], document: Document) -> dict[str, Any]:
    try:
        with document.file.open("rb") as handle:
            data = handle.read()
    except (OSError, ValueError):
        log.warning("Bulk export: document %s has no readable file", document.pk)
        data = None  # its description and title still go
    return _inline(resource, data)


def _of_row(row: Any) -> int:
    return int(row.pk)


SOURCES: tuple[Source, ...] = (
    Source("Patient", "patient", _patients, patient_of=_of_row, patient_column="pk"),
    Source("AllergyIntolerance", "allergy", _record(Allergy)),
    Source("Appointment", "appointment", _appointments),
    Source("CarePlan", "visitplan", _care_plans),
    Source(
        "CareTeam",
        "careteam",
        _care_relationships,
        patient_of=lambda team: team.bulk_patient_id,
        items=_care_teams,
    ),
    Source("Condition", "problem", _record(Problem)),
    Source("Coverage", "coverage", lambda window: _of(Coverage.objects.all(), window)),
    Source("DiagnosticReport", "resultreport", _reports),
    Source("DocumentReference", "clinicalnote", _record(ClinicalNote, visit=True), finish=_note_text),
    Source("DocumentReference", "document", _record(Document, visit=True), finish=_document_file),
    Source("Encounter", "encounter", _record(Encounter, "campus")),
    Source("Immunization", "immunization", _record(Immunization, "campus")),
    Source("Location", "campus", _locations, patient_of=None, patient_data=False),
    Source("MedicationRequest", "medication", _record(Medication)),
    Source("Observation", "observation", _observations),
    Source("Organization", "campus", _organizations, patient_of=None, patient_data=False),
    Source("Practitioner", "practitioner", _practitioners, patient_of=None, patient_data=False),
    Source("Procedure", "procedure", _record(Procedure, "campus", visit=True)),
)


@dataclass(frozen=True)
class Part:
    """One part of an exportable type: how it is read, and the registered part that maps it."""

    source: Source
    kind: ResourceType

    def rows(self, window: Window) -> models.QuerySet[Any]:
        """The part's rows as of the transaction time and, with `_since`, changed after it."""
        rows = self.source.rows(window)
        shard, shards = window.shard
        if shards > 1:
            if self.source.patient_of is None:  # shared resources: written once, by the first
                return rows if shard == 0 else rows.none()  # (they keep no change time either)
            rows = rows.alias(bulk_shard=F(self.source.patient_column) % shards).filter(bulk_shard=shard)
        if not rows.query.order_by:
            # In table order, not the model's display order: a sort of millions of rows
            # would come before the first one could be written.
            rows = rows.order_by("pk")
        field = self.kind.last_updated_field
        if not field:  # no change time kept: the IG lets these come whatever `_since` says
            return rows
        rows = rows.filter(**{f"{field}__lte": window.at})
        if window.since is None:
            return rows
        changed = Q(**{f"{field}__gt": window.since})
        # A result released or reviewed after `_since` is new to the reader even if the row is not.
        if self.source.name == "DiagnosticReport":
            changed |= Q(available_at__gt=window.since) | Q(reviewed_at__gt=window.since)
        elif self.source.name == "Observation":
            changed |= Q(report__available_at__gt=window.since) | Q(report__reviewed_at__gt=window.since)
        return rows.filter(changed)

    def to_fhir(self, row: Any, grant: ApiGrant | None) -> dict[str, Any]:
        resource = self.kind.to_fhir(row, grant)  # type: ignore[arg-type]  # types without a patient ignore it
        return self.source.finish(resource, row) if self.source.finish is not None else resource


def exportable() -> dict[str, tuple[Part, ...]]:
    """Every type an export can hold, by name: registered with the API, every part read here.

    A type registered later without a source here is left out (and a test fails) rather
    than exported through rules nobody checked.
    """
    found: dict[str, tuple[Part, ...]] = {}
    for name, kind in resource_types().items():
        sources = {source.part: source for source in SOURCES if source.name == name}
        parts = parts_of(kind)
        if parts and all(part.id_prefix in sources for part in parts):
            found[name] = tuple(Part(sources[part.id_prefix], part) for part in parts)
    return found
