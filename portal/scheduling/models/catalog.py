"""What a clinic offers: visit types, and the questionnaires and consent forms they need."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Department


class Mode(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    VIDEO = "video", _("Video visit")


class Questionnaire(models.Model):
    """A form a patient fills in before a visit, shaped like a FHIR R4 Questionnaire.

    `items` is the Questionnaire's `item` list: each {"linkId", "text", "type"
    (string, text, boolean, integer, decimal, date, choice), "required", "answerOption":
    [{"valueString"}], "item" for groups}. Answers are stored as QuestionnaireResponse
    items in `scheduling.QuestionnaireAnswers`, so both map onto FHIR without conversion.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("Retired")

    slug = models.SlugField(unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    version = models.CharField(_("version"), max_length=20, default="1")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    items = models.JSONField(_("questions"), default=list)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ConsentForm(models.Model):
    """A consent a patient signs before some visits (treatment, telehealth, financial)."""

    slug = models.SlugField(unique=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    version = models.CharField(_("version"), max_length=20, default="1")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class VisitType(models.Model):
    """A kind of appointment: how long it takes, how it happens, and who may book it.

    Only `self_schedulable` types appear in the patient's booking flow; everything else
    is asked for through an appointment request to a campus's scheduling desk.
    `established_only` types (follow-ups) are offered only to patients already under
    the care of the department.
    """

    slug = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description for patients"), blank=True)
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        related_name="visit_types",
        null=True,
        blank=True,
        help_text=_("Empty for a visit any department offers, such as a vaccine."),
    )
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration (minutes)"), validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    mode = models.CharField(_("how it happens"), max_length=10, choices=Mode.choices, default=Mode.IN_PERSON)
    self_schedulable = models.BooleanField(_("patients may book it themselves"), default=False)
    established_only = models.BooleanField(
        _("only for patients already seen by the department"), default=False
    )
    preparation = models.TextField(_("how to prepare"), blank=True)
    questionnaires = models.ManyToManyField(Questionnaire, blank=True, related_name="visit_types")
    consent_forms = models.ManyToManyField(ConsentForm, blank=True, related_name="visit_types")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_video(self) -> bool:
        return self.mode == Mode.VIDEO
