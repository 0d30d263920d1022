"""The billing account, its ledger, statements and insurance claims.

Every amount is integer cents. The ledger is append-only: a mistake is corrected by a
new adjustment or refund, never by editing a row. `Account.balance_cents` is the sum of
the ledger kept beside it in the same transaction (`billing/ledger.py`), so pages read
the balance in one query and a property test checks the two never disagree.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.patients.models import Coverage, Patient


class Account(models.Model):
    """A patient's billing account. The guarantor is who pays: the patient, or a parent for a child."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="billing_account")
    number = models.CharField(_("account number"), max_length=20, unique=True)
    guarantor_name = models.CharField(_("guarantor"), max_length=200)
    guarantor_patient = models.ForeignKey(
        Patient,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="guaranteed_accounts",
        help_text=_("When the guarantor is also a patient here, such as a parent paying for a child."),
    )
    balance_cents = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.number


class Statement(models.Model):
    """A bill as sent: a snapshot of the account for a period, with a due date."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="statements")
    number = models.CharField(max_length=30, unique=True)
    issued_on = models.DateField()
    due_on = models.DateField()
    period_start = models.DateField()
    period_end = models.DateField()
    previous_balance_cents = models.BigIntegerField(default=0)
    charges_cents = models.BigIntegerField(default=0)
    insurance_paid_cents = models.BigIntegerField(default=0)
    adjustments_cents = models.BigIntegerField(default=0)
    payments_cents = models.BigIntegerField(default=0)
    amount_due_cents = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-issued_on", "-id"]
        indexes = [models.Index(fields=["account", "-issued_on", "-id"], name="statement_by_account")]

    def __str__(self) -> str:
        return self.number


class Claim(models.Model):
    """A claim sent to an insurer for one visit's services, and what it paid."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Sent to insurance")
        PAID = "paid", _("Paid by insurance")
        PARTIAL = "partial", _("Partly paid by insurance")
        DENIED = "denied", _("Denied by insurance")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="claims")
    coverage = models.ForeignKey(Coverage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    number = models.CharField(max_length=30, unique=True)
    payer_name = models.CharField(max_length=150)
    service_date = models.DateField()
    submitted_on = models.DateField()
    decided_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    billed_cents = models.BigIntegerField(default=0)
    paid_cents = models.BigIntegerField(default=0)
    adjusted_cents = models.BigIntegerField(default=0)
    patient_cents = models.BigIntegerField(default=0)
    denial_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-service_date", "-id"]
        indexes = [models.Index(fields=["account", "-service_date", "-id"], name="claim_by_account")]

    def __str__(self) -> str:
        return self.number


class ServiceLine(models.Model):
    """One billed service at a visit: a code, what it cost, what insurance paid and adjusted.

    `patient_cents` = charge - insurance paid - adjusted. Each line's money is also in the
    ledger (a charge, an insurance payment, an adjustment), which is what the balance is.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="service_lines")
    statement = models.ForeignKey(
        Statement, on_delete=models.SET_NULL, null=True, blank=True, related_name="lines"
    )
    claim = models.ForeignKey(Claim, on_delete=models.SET_NULL, null=True, blank=True, related_name="lines")
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service_date = models.DateField()
    visit_label = models.CharField(_("visit"), max_length=200, blank=True)
    campus = models.ForeignKey(
        "organization.Campus", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    code = models.CharField(_("service code"), max_length=20)
    description = models.CharField(_("description"), max_length=200)
    charge_cents = models.BigIntegerField()
    insurance_paid_cents = models.BigIntegerField(default=0)
    adjustment_cents = models.BigIntegerField(default=0)
    patient_cents = models.BigIntegerField()
    # A confidential category (as in the record: "sexual-health"...), kept from whoever the
    # record keeps it from: a parent sees the amount, not what the service was.
    sensitivity = models.CharField(max_length=40, blank=True)
    # The send-once key of the staff form that posted it: a double submit finds this line.
    form_key = models.CharField(max_length=80, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["service_date", "id"]
        indexes = [models.Index(fields=["account", "service_date", "id"], name="service_line_by_account")]
        constraints = [
            models.CheckConstraint(
                condition=Q(charge_cents__gte=0)
                & Q(insurance_paid_cents__gte=0)
                & Q(adjustment_cents__gte=0),
                name="service_line_amounts_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class LedgerEntry(models.Model):
    """One movement of money on an account. Append-only; amounts are positive cents.

    balance = charges + refunds - payments - adjustments. Payments include insurance's
    (`payer`); a refund gives a patient's payment back and so raises the balance again.
    """

    class Kind(models.TextChoices):
        CHARGE = "charge", _("Charge")
        PAYMENT = "payment", _("Payment")
        ADJUSTMENT = "adjustment", _("Adjustment")
        REFUND = "refund", _("Refund")

    class Payer(models.TextChoices):
        PATIENT = "patient", _("You")
        INSURANCE = "insurance", _("Insurance")
        CLINIC = "clinic", _("The clinic")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    payer = models.CharField(max_length=10, choices=Payer.choices, default=Payer.PATIENT)
    amount_cents = models.BigIntegerField()
    description = models.CharField(max_length=200)
    code = models.CharField(max_length=20, blank=True)
    service_date = models.DateField(null=True, blank=True)
    service_line = models.ForeignKey(
        ServiceLine, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    payment = models.ForeignKey(
        "billing.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    reason = models.CharField(max_length=300, blank=True)
    # Its service's confidential category, if any (see ServiceLine.sensitivity).
    sensitivity = models.CharField(max_length=40, blank=True)
    # The send-once key of the staff form that posted it (adjustments): a double submit finds this entry.
    form_key = models.CharField(max_length=80, unique=True, null=True, blank=True)
    posted_at = models.DateTimeField(default=timezone.now)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-posted_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "-posted_at", "-id"], name="ledger_by_account")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="ledger_amount_positive"),
            # A gateway payment is posted once, however often its result is recorded.
            models.UniqueConstraint(
                fields=["payment"], condition=Q(kind="payment"), name="ledger_one_entry_per_payment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents}"

    @property
    def signed_cents(self) -> int:
        """What this entry does to the balance: + for charges and refunds, - otherwise."""
        if self.kind in (self.Kind.CHARGE, self.Kind.REFUND):
            return self.amount_cents
        return -self.amount_cents
