"""Forms of financial assistance: the patient's application and the billing office's decision."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MaxValueValidator, MinValueValidator
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from portal.billing.assistance import Answers, Employment
from portal.lib.money import BadAmount, parse_cents
from portal.lib.uploads import CheckedFile, check_document_or_image

MAX_TEXT = 4000
MAX_HOUSEHOLD = 20
YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class AssistanceForm(forms.Form):
    """About the household, in the patient's words, with an optional proof of income."""

    household_size = forms.IntegerField(
        label=_("How many people live in your household?"),
        help_text=_("Count yourself, a spouse or partner, and anyone you support."),
        min_value=1,
        max_value=MAX_HOUSEHOLD,
    )
    annual_income = forms.CharField(
        label=_("Household income for a year, in dollars"),
        help_text=_("Before tax, for everyone in the household. For example 32,000 or 32000.00."),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    employment = forms.ChoiceField(label=_("Work"), choices=Employment.CHOICES)
    insured = forms.ChoiceField(
        label=_("Do you have health insurance now?"), choices=YES_NO, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("Why are you asking for help?"),
        help_text=_("Anything that helps us decide: a job loss, large medical bills, other costs."),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    document = forms.FileField(
        label=_("Proof of income"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = filesizeformat(settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES)
        self.fields["document"].help_text = _(
            "For example a pay slip or a tax return: a PDF, JPEG or PNG, up to %(limit)s."
        ) % {"limit": limit}

    def clean_annual_income(self) -> int:
        try:
            return parse_cents(self.cleaned_data["annual_income"])
        except BadAmount as error:
            raise forms.ValidationError(
                _("Type the amount in dollars, like 32,000 or 32000.00."), code="bad_amount"
            ) from error

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Tell us briefly why you are asking."), code="required")
        return reason

    def clean_document(self) -> CheckedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get("document")
        if not upload:
            return None
        return check_document_or_image(upload, settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES)

    def answers(self) -> Answers:
        data = self.cleaned_data
        return Answers(
            household_size=data["household_size"],
            annual_income_cents=data["annual_income"],
            employment=data["employment"],
            insured=data["insured"] == "yes",
            reason=data["reason"],
        )


class DecisionForm(forms.Form):
    """Approve with a discount, or say no with a reason the patient will read."""

    APPROVE, DENY = "approve", "deny"

    answer = forms.ChoiceField(
        label=_("Decision"),
        choices=[(APPROVE, _("Approve with a discount")), (DENY, _("Do not approve"))],
        widget=forms.RadioSelect,
    )
    discount_percent = forms.IntegerField(
        label=_("Discount on the current balance (percent)"),
        required=False,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        widget=forms.NumberInput(attrs={"min": 1, "max": 100}),
    )
    note = forms.CharField(
        label=_("Message to the patient"),
        help_text=_("Needed when you do not approve: say why, and what the patient can do."),
        max_length=MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        answer = cleaned.get("answer")
        cleaned["note"] = (cleaned.get("note") or "").strip()
        if (
            answer == self.APPROVE
            and cleaned.get("discount_percent") is None
            and "discount_percent" not in self.errors
        ):
            self.add_error("discount_percent", _("Give the discount, from 1 to 100 percent."))
        if answer == self.DENY and not cleaned["note"]:
            self.add_error("note", _("Tell the patient why."))
        return cleaned
