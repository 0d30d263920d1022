"""Telling the patient (and whoever manages their visits) that something changed.

Through the one notifications system (`portal.notifications.send.notify_patient`): in
the portal at once, composed in the patient's preferred language and naming the visit;
by email or text only with the fixed appointment wording, as the patient's
preferences allow.
"""

from __future__ import annotations

from portal.notifications.models import Kind
from portal.notifications.send import Compose, notify_patient
from portal.patients.models import Patient

__all__ = ["Compose", "tell_patient"]


def tell_patient(patient: Patient, *, key: str, link: str, compose: Compose, topic: str) -> int:
    """Notify everyone who manages the patient's visits; `key` makes each email and text happen once.

    `compose` returns (title, body) and is called with the patient's language active.
    Returns how many people were told.
    """
    return notify_patient(patient, kind=Kind.APPOINTMENTS, key=f"{topic}:{key}", link=link, compose=compose)
