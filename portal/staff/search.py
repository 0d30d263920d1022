"""Patient search for staff, always inside what the access policy lets them reach."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q

from portal.patients.models import Patient

MAX_RESULTS = 50


def search_patients(
    reachable: models.QuerySet[Patient], text: str, birth_date: dt.date | None
) -> list[Patient]:
    results = reachable
    text = text.strip()
    if text:
        results = results.filter(_text_match(text))
    if birth_date:
        results = results.filter(birth_date=birth_date)
    return list(
        results.select_related("primary_campus").order_by("family_name", "given_name", "id")[:MAX_RESULTS]
    )


def _text_match(text: str) -> Q:
    if text.replace("-", "").isdigit():
        return Q(clinic_number=text.replace("-", ""))
    match = Q()
    for word in text.split()[:4]:
        match &= (
            Q(given_name__istartswith=word)
            | Q(family_name__istartswith=word)
            | Q(preferred_name__istartswith=word)
        )
    return match
