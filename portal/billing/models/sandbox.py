"""The local sandbox gateway's own tables: it plays the card processor for the demo and tests.

It is a stand-in for a third party, so it keeps what a processor would (a token's brand,
last four digits and test behaviour) and never the card number.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SandboxToken(models.Model):
    token = models.CharField(max_length=60, unique=True)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    funding = models.CharField(max_length=10)
    # What charging it does: succeed, decline, insufficient_funds, authenticate, fail_after_delay.
    behaviour = models.CharField(max_length=20)
    reusable = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.brand} {self.last4}"


class SandboxCharge(models.Model):
    """One charge, named by the caller's idempotency key: asking again returns this row."""

    idempotency_key = models.CharField(max_length=80, unique=True)
    reference = models.CharField(max_length=60, unique=True)
    token = models.CharField(max_length=60)
    amount_cents = models.BigIntegerField()
    # succeeded, declined, requires_action, failed
    status = models.CharField(max_length=20)
    decline_code = models.CharField(max_length=40, blank=True)
    refunded_cents = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.reference


class SandboxRefund(models.Model):
    idempotency_key = models.CharField(max_length=80, unique=True)
    charge = models.ForeignKey(SandboxCharge, on_delete=models.CASCADE, related_name="refunds")
    reference = models.CharField(max_length=60, unique=True)
    amount_cents = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.reference
