"""Search helpers the resource types share: tokens, dates with FHIR prefixes, the patient.

Each helper returns an `Apply` for `registry.SearchParam`: repeated parameters AND,
comma-separated values OR. A value the server cannot read raises `SearchError`; a value
that is readable but matches nothing just narrows the list to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import models
from django.db.models import Q

from portal.fhir.api import search as engine
from portal.fhir.api.registry import Apply, SearchError

MAX_VALUE = 200
NOTHING = Q(pk__in=[])


def each(values: list[list[str]], match: Callable[[str], Q]) -> Q:
    """AND over repeated parameters of OR over each one's comma-separated values."""
    rule = Q()
    for alternatives in values:
        either = NOTHING
        for value in alternatives:
            value = value.strip()
            if not value or len(value) > MAX_VALUE:
                raise SearchError(f"'{value[:MAX_VALUE]}' is not a value this parameter can take.")
            either |= match(value)
        rule &= either
    return rule


def filtered(match: Callable[[str], Q]) -> Apply:
    def apply(queryset: models.QuerySet[Any], values: list[list[str]]) -> models.QuerySet[Any]:
        return queryset.filter(each(values, match))

    return apply


# Tokens -------------------------------------------------------------------------------------


def split_token(value: str) -> tuple[str | None, str]:
    """("system", "code") of "system|code"; None for the system when the value names none."""
    if "|" not in value:
        return None, value
    system, _bar, code = value.partition("|")
    return system, code


def code_token(code_field: str, system_field: str = "", systems: Iterable[str] = ()) -> Apply:
    """A code stored with its system in another field, or in one of fixed systems."""
    fixed = tuple(systems)

    def match(value: str) -> Q:
        system, code = split_token(value)
        rule = Q(**{code_field: code}) if code else Q()
        if system is None:
            return rule if code else NOTHING
        if system_field:
            return rule & Q(**{system_field: system})
        return rule if system in fixed else NOTHING

    return filtered(match)


def choice_token(field_name: str, tables: dict[str, dict[str, list[Any]]]) -> Apply:
    """FHIR codes, by code system, that stand for stored values of one field.

    `tables` maps each system ("" for any) to {FHIR code: the field's values}; a value
    without a system matches the code in any of them, "system|" every row with a code of it.
    """

    def match(value: str) -> Q:
        given, code = split_token(value)
        chosen = [table for system, table in tables.items() if given is None or not system or given == system]
        if not code:
            stored = {item for table in chosen for items in table.values() for item in items}
        else:
            stored = {item for table in chosen for item in table.get(code, [])}
        return Q(**{f"{field_name}__in": sorted(stored)}) if stored else NOTHING

    return filtered(match)


def same_codes(values: Iterable[str]) -> dict[str, list[str]]:
    """A choice table where the FHIR code is the stored value itself."""
    return {value: [value] for value in values}


def constant_token(codes: Iterable[str], system: str = "") -> Apply:
    """A token every row has the same value of (e.g. MedicationRequest.intent "order")."""
    known = set(codes)

    def match(value: str) -> Q:
        given, code = split_token(value)
        if given is not None and system and given != system:
            return NOTHING
        # Every row: an empty Q() would vanish when OR-ed with the other values' conditions.
        return Q(pk__isnull=False) if (not code or code in known) else NOTHING

    return filtered(match)


# References and dates: the engine's own parsers, so every type reads them the same way -----


def patient_reference(field_name: str = "patient") -> Apply:
    """`patient=patient-3`, `Patient/patient-3` or a full URL ending in it."""
    return engine.reference_param(f"{field_name}_id", "Patient", "patient")


def date_param(field_name: str, is_datetime: bool) -> Apply:
    """A date search on one DateTimeField or DateField, with FHIR's prefixes and partial dates."""
    return engine.date_param(field_name, is_date=not is_datetime)
