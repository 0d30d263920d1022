"""Payments through a gateway, saved cards, and payment plans.

Card numbers never reach this database: the gateway's own form in the browser turns a
card into a token, and we keep only the token, the brand and the last four digits.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.billing.models.ledger import Account, Statement


class Funding(models.TextChoices):
    CREDIT = "credit", _("Credit card")
    DEBIT = "debit", _("Debit card")
    HSA = "hsa", _("Health savings account card")
    UNKNOWN = "unknown", _("Card")


class SavedCard(models.Model):
    """A card its owner asked us to remember, as the gateway's reference to it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_cards")
    gateway = models.CharField(max_length=20)
    customer_ref = models.CharField(max_length=100, blank=True)
    method_ref = models.CharField(max_length=100)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    funding = models.CharField(max_length=10, choices=Funding.choices, default=Funding.UNKNOWN)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "removed_at"], name="saved_card_by_owner")]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"


class Payment(models.Model):
    """One payment attempt, named by its idempotency key.

    The key comes from the form the patient submitted (or the plan instalment being
    charged): every retry of that attempt carries it, and the gateway is asked with it,
    so the card is charged at most once and every retry shows the same result.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Processing")
        REQUIRES_ACTION = "requires_action", _("Waiting for your bank's check")
        SUCCEEDED = "succeeded", _("Paid")
        DECLINED = "declined", _("Declined")
        FAILED = "failed", _("Not completed")
        REFUNDED = "refunded", _("Refunded")
        PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")

    class Source(models.TextChoices):
        PORTAL = "portal", _("Paid online")
        PLAN = "plan", _("Payment plan instalment")
        STAFF = "staff", _("Taken by the billing office")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    idempotency_key = models.CharField(max_length=80, unique=True)
    amount_cents = models.BigIntegerField()
    statement = models.ForeignKey(
        Statement, on_delete=models.SET_NULL, null=True, blank=True, related_name="payments"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PORTAL)
    gateway = models.CharField(max_length=20)
    gateway_ref = models.CharField(max_length=100, blank=True)
    funding = models.CharField(max_length=10, choices=Funding.choices, default=Funding.UNKNOWN)
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    saved_card = models.ForeignKey(
        SavedCard, on_delete=models.SET_NULL, null=True, blank=True, related_name="payments"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    next_action_url = models.CharField(max_length=500, blank=True)
    receipt_number = models.CharField(max_length=30, unique=True, null=True, blank=True)
    refunded_cents = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="payment_by_account"),
            models.Index(fields=["status", "created_at"], name="payment_by_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payment_amount_positive")
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status not in (self.Status.PENDING, self.Status.REQUIRES_ACTION)

    @property
    def succeeded(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.REFUNDED, self.Status.PARTLY_REFUNDED)


class Refund(models.Model):
    """Money given back on a payment, through the gateway, by the billing office."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    idempotency_key = models.CharField(max_length=80, unique=True)
    amount_cents = models.BigIntegerField()
    gateway_ref = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount_cents__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"refund {self.idempotency_key}"


class PaymentPlan(models.Model):
    """A balance split into monthly instalments, charged to a saved card by the worker."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Paid off")
        CANCELLED = "cancelled", _("Cancelled")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="plans")
    total_cents = models.BigIntegerField()
    instalment_count = models.PositiveSmallIntegerField()
    saved_card = models.ForeignKey(
        SavedCard, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One active plan per account: a second would charge the same balance twice.
            models.UniqueConstraint(
                fields=["account"], condition=Q(status="active"), name="one_active_plan_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"plan {self.pk} ({self.status})"


class Instalment(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")
        CANCELLED = "cancelled", _("Cancelled")

    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="instalments")
    number = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(default=0)
    payment = models.ForeignKey(Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="instalment_number_once")]
        indexes = [models.Index(fields=["status", "due_on"], name="instalment_due")]

    def __str__(self) -> str:
        return f"instalment {self.number} of plan {self.plan_id}"
