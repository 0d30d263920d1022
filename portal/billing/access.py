"""Who may see and change billing, on top of the one access policy (`patients/access.py`).

Patient side: the billing scope (the patient, or a proxy granted it: a parent paying
for a child). Staff side: the billing office (every patient) or a billing clerk on the
patient's care team, never for their own or their family's account, and never
through break-glass (an emergency is no reason to see a bill).
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.http import Http404, HttpRequest

from portal.accounts.models import User
from portal.billing import ledger, overview
from portal.billing.models import Account
from portal.patients.access import (
    PatientAccess,
    Role,
    decide,
    is_on_patient_side,
    refuse,
    require_patient,
    staff_patients,
)
from portal.patients.models import Patient, ProxyGrant, Scope

M = TypeVar("M", bound=models.Model)


def account_of(access: PatientAccess) -> Account:
    """The account of the patient the access is for (opened on first use)."""
    return ledger.account_for(access.patient)


def account_to_read(access: PatientAccess) -> Account:
    """The patient's account, or an unsaved empty one if they have never been billed.

    For pages that only read: a GET never opens an account (that is a write). The stand-in
    has a zero balance and no plans; its number is the patient's clinic number, the
    reference a payment can quote until an account number exists (the billing office finds
    patients by it).
    """
    patient = access.patient
    return overview.account_of(patient) or Account(
        patient=patient, number=patient.clinic_number, balance_cents=0
    )


def require_account_object(
    request: HttpRequest, queryset: models.QuerySet[M], object_id: Any, *, staff: bool = False
) -> tuple[M, PatientAccess]:
    """A billing object (anything with an `account`) a URL names, for someone with the billing scope.

    Patient-side pages (`staff=False`) refuse staff rights; staff pages refuse anyone on
    the patient's side. Anything else (another patient's, a proxy without the billing
    scope) is the same audited 404 as a missing object.
    """
    try:
        obj = queryset.select_related("account__patient").filter(pk=int(object_id)).first()
    except (ValueError, TypeError, OverflowError):
        obj = None
    patient = obj.account.patient if obj is not None else None  # type: ignore[attr-defined]
    access = decide(request.user, patient) if patient is not None else None
    wrong_side = access is not None and (
        (access.role is not Role.STAFF or is_on_patient_side(request.user, access.patient))
        if staff
        else access.is_staff_access
    )
    if obj is None or access is None or not access.allows(Scope.BILLING) or wrong_side:
        refuse(request, patient, what=queryset.model._meta.label_lower, lookup=str(object_id)[:40])
    return obj, access  # type: ignore[return-value]


def require_billing_staff(request: HttpRequest, patient_id: Any) -> PatientAccess:
    """The patient for a billing-office page: staff with the billing scope, not on the patient's side."""
    access = require_patient(request, patient_id, Scope.BILLING)
    if access.role is not Role.STAFF or is_on_patient_side(request.user, access.patient):
        refuse(request, access.patient, what="billing.account", lookup=str(patient_id))
        raise Http404
    return access


def billing_patients(user: User) -> models.QuerySet[Patient]:
    """Patients whose bills a member of staff may work (for lists and queues): never their own or their family's."""
    family = ProxyGrant.objects.active().filter(grantee=user).values("patient")
    return staff_patients(user).exclude(account=user).exclude(pk__in=family)
