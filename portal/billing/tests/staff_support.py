"""Helpers for the billing office's tests: signed-in clients, a paid bill, a coverage, the pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.billing.models import Payment
from portal.billing.tests.support import BillingWorld, bill, pay
from portal.patients.models import Coverage, Patient

MISSING = 987654321


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def paid(bw: BillingWorld, charge_cents: int = 100_00, paid_cents: int = 50_00) -> Payment:
    """Alice billed `charge_cents` and paid `paid_cents` of it by card."""
    bill(bw.world.alice, charge_cents)
    payment = pay(bw.world.alice_user, bw.world.alice, paid_cents)
    assert payment.status == Payment.Status.SUCCEEDED
    return payment


def coverage_for(patient: Patient, payer: str = "Acme Health", **fields: Any) -> Coverage:
    return Coverage.objects.create(
        patient=patient,
        priority=Coverage.Priority.PRIMARY,
        payer_name=payer,
        member_id="ACM123456789",
        subscriber_name=patient.full_name,
        **fields,
    )


def account_url(patient: Patient | int) -> str:
    return reverse("staff_billing:account", args=[getattr(patient, "pk", patient)])


def patient_url(name: str, patient: Patient | int) -> str:
    return reverse(f"staff_billing:{name}", args=[getattr(patient, "pk", patient)])


def coverage_url(coverage: Coverage, name: str = "coverage") -> str:
    return reverse(f"staff_billing:{name}", args=[coverage.patient_id, coverage.pk])


def refund_url(payment: Payment | int) -> str:
    return reverse("staff_billing:refund", args=[getattr(payment, "pk", payment)])


def today() -> dt.date:
    return timezone.localdate()


def written(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, kind="write").order_by("sequence"))
