"""What goes on a health card, as the FHIR bundle the card carries, and the signed card itself.

Two cards, because one QR code holds about 1,200 characters of signed card and the
specification asks issuers to split a record into several cards rather than chunk one
across codes: every immunization with a standard (CVX) vaccine code, or the latest value
of each lab test in the last `PORTAL_SHC_LAB_MONTHS` months. The newest come first and
whatever does not fit in one code is left out, and the patient is told which.

Rows come only from the record's access querysets, so a card holds exactly what the
record pages show: released results only, and never an adolescent's confidential rows
for a parent. Resources are the minimal ones the specification asks for: no ids, meta,
narrative or display text, `resource:N` references.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from portal.fhir import codes
from portal.fhir.mapping.common import clean, number_json
from portal.healthcards import signing
from portal.patients.access import PatientAccess
from portal.patients.models import Patient
from portal.records.access import visible, visible_observations
from portal.records.models import Immunization, Observation, ResultReport

HEALTH_CARD = "https://smarthealth.cards#health-card"
FHIR_VERSION = "4.0.1"
# The longest card one QR code of version 22 (error correction L) holds; the specification's limit.
MAX_QR_JWS = 1195
# No card holds this many results; reading further back would only cost time.
LAB_CANDIDATES = 60
LAB_ROWS_SCANNED = 3000


class Kind(StrEnum):
    IMMUNIZATIONS = "immunizations"
    LABS = "labs"


@dataclass(frozen=True)
class Item:
    """One line of a card: what the patient reads, and the FHIR resource a verifier reads."""

    name: str
    when: dt.date | dt.datetime
    value: str
    where: str
    resource: dict[str, Any]


@dataclass(frozen=True)
class Card:
    """A made card (`jws` is empty when there is nothing to put on it) and what was left out."""

    kind: Kind
    items: list[Item]
    no_room: list[Item] = field(default_factory=list)
    uncoded: list[str] = field(default_factory=list)
    since: dt.date | None = None
    jws: str = ""

    @property
    def left_out(self) -> int:
        return len(self.no_room) + len(self.uncoded)


def make_card(access: PatientAccess, kind: Kind, now: dt.datetime | None = None) -> Card:
    """The patient's card of `kind`, signed, as the record's rules let this access see it."""
    now = now or timezone.now()
    if kind is Kind.IMMUNIZATIONS:
        items, uncoded = immunization_items(access)
        return _signed(access.patient, Card(kind, items, uncoded=uncoded), now)
    since = lab_window_start(timezone.localdate(now))
    return _signed(access.patient, Card(kind, lab_items(access, since), since=since), now)


def immunization_items(access: PatientAccess) -> tuple[list[Item], list[str]]:
    """Vaccines given, newest first, and the names of those with no CVX code (a verifier
    can only read a coded vaccine, so those cannot go on a card)."""
    rows = (
        visible(Immunization, access)
        .filter(status=Immunization.Status.COMPLETED)
        .select_related("campus")
        .order_by("-given_on", "-id")
    )
    items: list[Item] = []
    uncoded: list[str] = []
    for row in rows:
        if not row.code.strip():
            uncoded.append(row.vaccine)
            continue
        items.append(_immunization(row))
    return items, uncoded


def _immunization(row: Immunization) -> Item:
    where = row.campus.name if row.campus is not None else ""
    resource = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": codes.CVX, "code": row.code.strip()}]},
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": row.given_on.isoformat(),
        "performer": [{"actor": {"display": where}}] if where else None,
        "lotNumber": row.lot_number,
    }
    return Item(row.vaccine, row.given_on, "", where, clean(resource))


def lab_window_start(today: dt.date) -> dt.date:
    """The first day of the lab card's window: `PORTAL_SHC_LAB_MONTHS` months before today."""
    year, month_index = divmod(today.year * 12 + today.month - 1 - settings.PORTAL_SHC_LAB_MONTHS, 12)
    # 31 March less a month is the last day of February.
    day = min(today.day, calendar.monthrange(year, month_index + 1)[1])
    return dt.date(year, month_index + 1, day)


def lab_items(access: PatientAccess, since: dt.date) -> list[Item]:
    """The latest final value of each lab test since `since`, newest first."""
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    rows = (
        visible_observations(access)
        .filter(
            Q(report__isnull=True) | Q(report__category=ResultReport.Category.LAB),
            category=Observation.Category.LABORATORY,
            status__in=[Observation.Status.FINAL, Observation.Status.CORRECTED],
            effective_at__gte=start,
        )
        .exclude(code="")
        .order_by("-effective_at", "position", "id")[:LAB_ROWS_SCANNED]
    )
    latest: dict[str, Item] = {}
    for row in rows:
        if row.code in latest or (row.value_number is None and not row.value_text.strip()):
            continue
        latest[row.code] = _lab(row)
        if len(latest) >= LAB_CANDIDATES:
            break
    return list(latest.values())


def _lab(row: Observation) -> Item:
    if row.value_number is not None:
        value: dict[str, Any] = {"valueQuantity": {"value": number_json(row.value_number), "unit": row.unit}}
    else:
        value = {"valueString": row.value_text.strip()}
    resource = {
        "resourceType": "Observation",
        "status": "corrected" if row.status == Observation.Status.CORRECTED else "final",
        "code": {"coding": [{"system": codes.LOINC, "code": row.code}]},
        "subject": {"reference": "resource:0"},
        "effectiveDateTime": row.effective_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **value,
    }
    return Item(row.name, row.effective_at, row.display_value, "", clean(resource))


def patient_resource(patient: Patient) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.birth_date.isoformat(),
    }


def payload(patient: Patient, items: Sequence[Item], nbf: int) -> dict[str, Any]:
    """The card's JWT claims: a verifiable credential around a FHIR collection bundle."""
    resources = [patient_resource(patient), *(item.resource for item in items)]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"resource:{n}", "resource": resource} for n, resource in enumerate(resources)],
    }
    return {
        "iss": settings.PORTAL_SHC_ISSUER,
        "nbf": nbf,
        "vc": {
            "type": [HEALTH_CARD],
            "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": bundle},
        },
    }


def _signed(patient: Patient, card: Card, now: dt.datetime) -> Card:
    if not card.items:
        return card
    nbf = int(now.timestamp())
    count = _fitting(patient, card.items, nbf)
    kept, no_room = card.items[:count], card.items[count:]
    jws = signing.sign(payload(patient, kept, nbf)) if kept else ""
    return Card(card.kind, kept, no_room, card.uncoded, card.since, jws)


def _fitting(patient: Patient, items: list[Item], nbf: int) -> int:
    """How many of `items`, taken from the front, fit in one QR code once signed.

    Compression makes the size only roughly proportional to the count, so search for the
    largest prefix that fits; the signed length is computed exactly without signing.
    """

    def fits(count: int) -> bool:
        return signing.signed_length(payload(patient, items[:count], nbf)) <= MAX_QR_JWS

    if fits(len(items)):
        return len(items)
    low, high = 0, len(items)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low
