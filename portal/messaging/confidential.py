"""Conversations about an adolescent's confidential care.

A thread carries a confidential category (`Thread.sensitivity`, a slug such as
"mental-health", as on record items) when it is about something the record keeps from
the parent of a 12-17-year-old: a linked result, a refill of such a medication, or
because staff marked it. Every patient-side query of threads leaves those out for a
proxy who may not see the category (`access.patient_threads`, `access.require_thread`),
and the patient side is only told of replies through `notify_patient(sensitivity=...)`,
which skips the same proxies.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.conf import settings

from portal.messaging.models import Thread
from portal.patients.access import PatientAccess
from portal.records.staff_forms import CATEGORY_NAMES, sensitivity_field

MAX_LENGTH = 40


def category(value: str | None) -> str:
    """A category as stored: a lowercase slug, or ""."""
    return (value or "").strip().lower()[:MAX_LENGTH]


def most_sensitive(values: Iterable[str | None]) -> str:
    """The category a thread about all of `values` takes.

    One the clinic keeps from parents comes first (any of them hides the thread from
    the same people); else any other label, so nothing labelled is treated as ordinary.
    """
    found = sorted({category(value) for value in values} - {""})
    configured = [slug for slug in found if slug in settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES]
    return (configured or found or [""])[0]


def hidden_from(access: PatientAccess, thread: Thread) -> bool:
    """Whether this access may not see the thread because of its category."""
    return bool(thread.sensitivity) and access.hides(thread.sensitivity)


def category_name(value: str) -> str:
    """How a category reads to staff ("Mental health")."""
    slug = category(value)
    return str(CATEGORY_NAMES.get(slug, slug.replace("-", " ").capitalize()))


def category_field() -> forms.ChoiceField:
    """The staff choice of a thread's category: the record's own confidential categories."""
    return sensitivity_field()
