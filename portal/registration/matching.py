"""Does what someone typed on "Create account" name a patient and a usable code for them?

The answer to the visitor is only yes or no. The reason is for the audit trail. Both
lookups run on every attempt, whatever was typed, so a known and an unknown clinic
number cost the same queries.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.utils import timezone

from portal.patients.models import Patient
from portal.registration.codes import code_hash
from portal.registration.models import ActivationCode


class Mismatch(StrEnum):
    """Why an attempt failed, recorded in the audit detail and never shown."""

    UNKNOWN_CLINIC_NUMBER = "unknown_clinic_number"
    DETAILS = "details_mismatch"
    UNKNOWN_CODE = "unknown_code"
    OTHER_PATIENTS_CODE = "code_for_another_patient"
    CODE_USED = "code_used"
    CODE_EXPIRED = "code_expired"
    CODE_REVOKED = "code_revoked"
    HAS_ACCOUNT = "has_account"


@dataclass(frozen=True)
class Claim:
    """What the visitor typed in the first step of "Create account"."""

    clinic_number: str
    given_name: str
    family_name: str
    birth_date: dt.date
    code: str


@dataclass(frozen=True)
class Verdict:
    """The code if everything matched, else why not; and the patient the number names."""

    code: ActivationCode | None
    patient: Patient | None
    mismatch: Mismatch | None

    @property
    def matched(self) -> bool:
        return self.mismatch is None and self.code is not None


def clinic_number_key(typed: str) -> str:
    return "".join(typed.split()).replace("-", "")


def name_key(name: str) -> str:
    """Names compare without case, accents, spaces or punctuation: "O'Brien" is "obrien"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(character for character in decomposed if character.isalnum())


def check_claim(claim: Claim, at: dt.datetime | None = None) -> Verdict:
    at = at or timezone.now()
    patient = (
        Patient.objects.filter(clinic_number=clinic_number_key(claim.clinic_number))
        .select_related("primary_campus")
        .first()
    )
    code = ActivationCode.objects.filter(code_hash=code_hash(claim.code)).first()
    return Verdict(code, patient, _mismatch(claim, patient, code, at))


def _mismatch(
    claim: Claim, patient: Patient | None, code: ActivationCode | None, at: dt.datetime
) -> Mismatch | None:
    if patient is None:
        return Mismatch.UNKNOWN_CLINIC_NUMBER
    if not _same_person(claim, patient):
        return Mismatch.DETAILS
    if code is None:
        return Mismatch.UNKNOWN_CODE
    if code.patient_id != patient.pk:
        return Mismatch.OTHER_PATIENTS_CODE
    status = code.status_at(at)
    if status == ActivationCode.Status.USED:
        return Mismatch.CODE_USED
    if status == ActivationCode.Status.EXPIRED:
        return Mismatch.CODE_EXPIRED
    if status == ActivationCode.Status.REVOKED:
        return Mismatch.CODE_REVOKED
    if patient.account_id is not None:
        return Mismatch.HAS_ACCOUNT
    return None


def _same_person(claim: Claim, patient: Patient) -> bool:
    return (
        name_key(claim.given_name) == name_key(patient.given_name)
        and name_key(claim.family_name) == name_key(patient.family_name)
        and claim.birth_date == patient.birth_date
    )


def local_today(patient: Patient, at: dt.datetime | None = None) -> dt.date:
    """Today where the patient's primary campus is: birthdays turn over at local midnight."""
    return (at or timezone.now()).astimezone(patient.primary_campus.zone).date()


def old_enough(patient: Patient, at: dt.datetime | None = None) -> bool:
    return patient.age_on(local_today(patient, at)) >= settings.PORTAL_MIN_REGISTRATION_AGE
