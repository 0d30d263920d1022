"""The price list, insurance benefits, cost estimates, disputes and financial assistance."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.billing.models.ledger import Account, Statement
from portal.patients.models import Coverage


class PriceItem(models.Model):
    """One service on the clinic's price list (chargemaster), by its billing code."""

    code = models.CharField(_("service code"), max_length=20, unique=True)
    description = models.CharField(_("description"), max_length=200)
    price_cents = models.BigIntegerField(_("price (cents)"))
    self_pay_price_cents = models.BigIntegerField(
        _("self-pay price (cents)"), help_text=_("What a patient paying without insurance is charged.")
    )
    visit_types = models.ManyToManyField(
        "scheduling.VisitType",
        blank=True,
        related_name="price_items",
        help_text=_("Appointment types that usually include this service."),
    )
    sensitivity = models.CharField(
        _("confidential category"),
        max_length=40,
        blank=True,
        help_text=_(
            "A category kept confidential for adolescents (such as sexual-health): billed lines "
            "of this service hide what it was from a parent."
        ),
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class CoverageBenefits(models.Model):
    """What a verified coverage pays, as the billing office entered it from the insurer."""

    coverage = models.OneToOneField(Coverage, on_delete=models.CASCADE, related_name="benefits")
    deductible_cents = models.BigIntegerField(default=0)
    deductible_met_cents = models.BigIntegerField(default=0)
    coinsurance_percent = models.PositiveSmallIntegerField(default=20, validators=[MaxValueValidator(100)])
    copay_cents = models.BigIntegerField(default=0)
    out_of_pocket_max_cents = models.BigIntegerField(default=0)
    out_of_pocket_met_cents = models.BigIntegerField(default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"benefits of coverage {self.coverage_id}"


class Estimate(models.Model):
    """A cost estimate as shown to the patient, kept so a bill can be compared with it.

    A self-pay estimate is a Good Faith Estimate (No Surprises Act): it has a number, and
    a bill $400 or more above it may be disputed.
    """

    class Kind(models.TextChoices):
        INSURED = "insured", _("Estimate with insurance")
        GOOD_FAITH = "good_faith", _("Good Faith Estimate")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="estimates")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    number = models.CharField(max_length=30, unique=True)
    visit_type = models.ForeignKey(
        "scheduling.VisitType", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    coverage = models.ForeignKey(Coverage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # [{"code", "description", "price_cents"}], as priced when the estimate was made.
    items = models.JSONField(default=list)
    # The plain-words assumptions shown with it.
    assumptions = models.JSONField(default=list)
    total_cents = models.BigIntegerField()
    insurance_cents = models.BigIntegerField(default=0)
    patient_cents = models.BigIntegerField()
    service_date = models.DateField(null=True, blank=True)
    valid_until = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at", "-id"], name="estimate_by_account")]

    def __str__(self) -> str:
        return self.number


class Dispute(models.Model):
    """A patient's challenge of a bill that came in $400 or more above their Good Faith Estimate."""

    class Status(models.TextChoices):
        OPEN = "open", _("Being reviewed")
        UPHELD = "upheld", _("Bill lowered")
        DECLINED = "declined", _("Bill stands")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="disputes")
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="disputes")
    estimate = models.ForeignKey(Estimate, on_delete=models.PROTECT, related_name="disputes")
    billed_cents = models.BigIntegerField()
    estimated_cents = models.BigIntegerField()
    reason = models.TextField(max_length=4000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decision = models.TextField(blank=True, max_length=4000)
    adjusted_cents = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement"], condition=models.Q(status="open"), name="one_open_dispute_per_statement"
            )
        ]

    def __str__(self) -> str:
        return f"dispute {self.pk} ({self.status})"


class AssistanceApplication(models.Model):
    """A request for financial assistance (charity care), decided by the billing office."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Not approved")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="assistance_applications")
    household_size = models.PositiveSmallIntegerField()
    annual_income_cents = models.BigIntegerField()
    employment = models.CharField(max_length=40)
    insured = models.BooleanField()
    reason = models.TextField(max_length=4000)
    document = models.FileField(upload_to="billing/assistance/", max_length=200, blank=True)
    document_type = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    discount_percent = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    decision = models.TextField(blank=True, max_length=4000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"assistance application {self.pk} ({self.status})"
