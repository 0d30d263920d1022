"""E-visits: online care for a minor problem, from a questionnaire, answered by a clinician."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.organization.models import CareTeam
from portal.patients.models import Patient

if TYPE_CHECKING:
    from portal.billing.models import PriceItem


class EVisitCondition(models.Model):
    """A problem the clinic treats by e-visit, with its questionnaire, price and reviewers.

    `red_flags` lists answers that mean the problem needs urgent care instead: each
    {"linkId", "answers": [accepted answers: "yes"/"no" for yes-no questions, an
    option's text or code for choices], "advice": "emergency" or "urgent", "message"}.
    `sensitivity` is a confidential category slug (one of
    `PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES`, or blank): each e-visit takes it when
    started, and is then kept from a parent of a 12-17-year-old like a record item of
    that category.
    """

    class Advice(models.TextChoices):
        EMERGENCY = "emergency", _("Call the emergency number now")
        URGENT = "urgent", _("Go to urgent care today")

    slug = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("what it covers"), max_length=1000)
    questionnaire = models.ForeignKey(
        "scheduling.Questionnaire", on_delete=models.PROTECT, related_name="evisit_conditions"
    )
    price_item = models.ForeignKey(
        "billing.PriceItem", on_delete=models.PROTECT, related_name="evisit_conditions"
    )
    review_team = models.ForeignKey(
        CareTeam,
        on_delete=models.PROTECT,
        related_name="evisit_conditions",
        help_text=_("The clinicians who answer these e-visits."),
    )
    red_flags = models.JSONField(_("red-flag answers"), default=list, blank=True)
    sensitivity = models.CharField(
        _("confidential category"),
        max_length=40,
        blank=True,
        help_text=_(
            "A parent or guardian of a patient aged 12 to 17 does not see e-visits in these categories."
        ),
    )
    asks_for_photos = models.BooleanField(_("ask for photos"), default=False)
    min_age = models.PositiveSmallIntegerField(_("youngest patient (years)"), default=0)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class EVisit(models.Model):
    """One e-visit, from the questionnaire to the clinician's reply and its charge.

    The price item, its code and description and the price are frozen when the e-visit
    is started (`freeze_price`): the reply charges those, whatever the price list says
    by then. `sensitivity` is the condition's confidential category, copied at the start.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Not sent yet")
        STOPPED = "stopped", _("Stopped: needs urgent care")
        SUBMITTED = "submitted", _("Waiting for a clinician")
        IN_REVIEW = "in_review", _("A clinician is reviewing it")
        COMPLETED = "completed", _("Answered")
        REDIRECTED = "redirected", _("Needs a visit instead")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    OPEN_STATUSES = (Status.SUBMITTED, Status.IN_REVIEW)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="evisits")
    condition = models.ForeignKey(EVisitCondition, on_delete=models.PROTECT, related_name="evisits")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    # The questionnaire's answers as FHIR QuestionnaireResponse items.
    answers = models.JSONField(default=list)
    red_flag_advice = models.CharField(max_length=10, choices=EVisitCondition.Advice.choices, blank=True)
    red_flag_message = models.CharField(max_length=500, blank=True)
    price_cents = models.BigIntegerField(help_text=_("The price the patient saw before sending it."))
    price_item = models.ForeignKey("billing.PriceItem", on_delete=models.PROTECT, related_name="evisits")
    price_code = models.CharField(max_length=20)
    price_description = models.CharField(max_length=200)
    sensitivity = models.CharField(_("confidential category"), max_length=40, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    assessment = models.TextField(_("assessment"), max_length=4000, blank=True)
    plan = models.TextField(_("plan"), max_length=4000, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    medication = models.ForeignKey(
        "records.Medication", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    referral = models.ForeignKey(
        "messaging.Referral", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service_line = models.ForeignKey(
        "billing.ServiceLine", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="evisit_by_patient"),
            models.Index(fields=["status", "submitted_at"], name="evisit_queue"),
        ]

    def __str__(self) -> str:
        return f"E-visit {self.pk} ({self.condition_id}) for patient {self.patient_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Rows made outside `evisits.do_start_evisit` (the demo, tests) still freeze the
        # condition's item and take its category, so no e-visit is left without them.
        if self._state.adding and self.condition_id is not None:
            if self.price_item_id is None:
                self.freeze_price(self.condition.price_item, self.price_cents)
            if not self.sensitivity:
                self.sensitivity = self.condition.sensitivity
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def freeze_price(self, item: PriceItem, cents: int) -> None:
        """Charge this item, under its code and description as they read now, at `cents`."""
        self.price_item = item
        self.price_code = item.code
        self.price_description = item.description[:200]
        self.price_cents = cents


class EVisitPhoto(models.Model):
    """A photo attached to an e-visit (checked and re-encoded on upload, served through the policy)."""

    evisit = models.ForeignKey(EVisit, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to="evisits/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name
