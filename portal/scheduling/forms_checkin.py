"""Forms of pre-check-in. Questionnaire forms are built in `questionnaires.py`."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from portal.patients.models import Coverage
from portal.scheduling.coverage import CardImage, check_card_image

MAX_CHANGES = 2000


class ListReviewForm(forms.Form):
    """ "This list is right", or what has changed, in the patient's words."""

    changes = forms.CharField(
        label=_("What has changed?"),
        help_text=_(
            "For example a new medicine, a stopped one, or a new reaction. Your clinician reads this."
        ),
        max_length=MAX_CHANGES,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, something_changed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.something_changed = something_changed
        self.fields["changes"].required = something_changed

    def clean_changes(self) -> str:
        # "This list is right" sends no changes even if the box had text in it.
        return self.cleaned_data["changes"].strip() if self.something_changed else ""


class CoverageForm(forms.Form):
    """A new insurance plan, or a new card for one on file, with photos of the card."""

    priority = forms.ChoiceField(label=_("Primary or secondary"), choices=Coverage.Priority.choices)
    payer_name = forms.CharField(label=_("Insurance company"), max_length=150)
    plan_name = forms.CharField(label=_("Plan name"), max_length=150, required=False)
    member_id = forms.CharField(label=_("Member ID"), max_length=40)
    group_number = forms.CharField(label=_("Group number"), max_length=40, required=False)
    subscriber_name = forms.CharField(label=_("Policyholder's full name"), max_length=200)
    subscriber_relationship = forms.ChoiceField(
        label=_("The policyholder is"), choices=Coverage.Subscriber.choices, initial=Coverage.Subscriber.SELF
    )
    card_front = forms.FileField(
        label=_("Photo of the front of the card"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    card_back = forms.FileField(
        label=_("Photo of the back of the card"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    replaces = forms.TypedChoiceField(label=_("This replaces"), coerce=int, required=False, empty_value=None)

    DETAILS = (
        "priority",
        "payer_name",
        "plan_name",
        "member_id",
        "group_number",
        "subscriber_name",
        "subscriber_relationship",
    )

    def __init__(self, *args: Any, on_file: list[Coverage], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_file = {coverage.pk: coverage for coverage in on_file}
        limit = filesizeformat(settings.PORTAL_INSURANCE_CARD_MAX_BYTES)
        hint = _("A JPEG or PNG photo, up to %(limit)s.") % {"limit": limit}
        self.fields["card_front"].help_text = hint
        self.fields["card_back"].help_text = hint
        replaces = cast(forms.TypedChoiceField, self.fields["replaces"])
        replaces.choices = [("", _("Nothing: this is an extra plan"))] + [
            (coverage.pk, str(coverage)) for coverage in on_file
        ]
        if not on_file:
            del self.fields["replaces"]

    def clean_card_front(self) -> CardImage:
        return check_card_image(self.cleaned_data["card_front"])

    def clean_card_back(self) -> CardImage | None:
        upload: UploadedFile | None = self.cleaned_data.get("card_back")
        return check_card_image(upload) if upload else None

    def clean_replaces(self) -> Coverage | None:
        chosen = self.cleaned_data.get("replaces")
        return self.on_file.get(chosen) if chosen is not None else None

    def details(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.DETAILS}


class ConsentSignForm(forms.Form):
    signed_name = forms.CharField(label=_("Type your full name to sign"), max_length=200)
    agree = forms.BooleanField(label=_("I have read this form and I agree"))

    def clean_signed_name(self) -> str:
        name = " ".join(self.cleaned_data["signed_name"].split())
        if not name:
            raise forms.ValidationError(_("Type your full name."))
        return name
