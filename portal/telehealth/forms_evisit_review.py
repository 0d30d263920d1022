"""The review team's forms: the queue's filter, the reply (with an optional prescription and
referral), and "needs a visit instead"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.messaging.actions_referrals import offered_specialties
from portal.telehealth.evisit_review import MAX_REFILLS, PrescriptionInput, ReferralInput

PRESCRIPTION_FIELDS = ("medication", "dose", "instructions", "refills")
REFERRAL_FIELDS = ("specialty", "referral_reason")


class QueueFilterForm(forms.Form):
    """Which open e-visits the queue shows; anything unknown shows them all."""

    SHOW_ALL, SHOW_UNCLAIMED, SHOW_MINE = "all", "unclaimed", "mine"

    show = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            (SHOW_ALL, _("All open e-visits")),
            (SHOW_UNCLAIMED, _("Waiting for a reviewer")),
            (SHOW_MINE, _("Reviewed by me")),
        ],
    )

    def choice(self) -> str:
        if self.is_bound and self.is_valid():
            return self.cleaned_data["show"] or self.SHOW_ALL
        return self.SHOW_ALL


class ReplyForm(forms.Form):
    """The answer to an e-visit. Prescription and referral fields are offered to prescribers only."""

    assessment = forms.CharField(
        label=_("Assessment"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What you think is going on. The patient reads it."),
    )
    plan = forms.CharField(
        label=_("Plan"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What the patient should do next, and when to get help."),
    )
    medication = forms.CharField(label=_("Medication to prescribe"), max_length=200, required=False)
    dose = forms.CharField(label=_("Dose"), max_length=100, required=False)
    instructions = forms.CharField(label=_("How to take it"), max_length=500, required=False)
    refills = forms.IntegerField(label=_("Refills"), min_value=0, max_value=MAX_REFILLS, required=False)
    specialty = forms.ModelChoiceField(
        label=_("Refer to"),
        queryset=offered_specialties(),
        required=False,
        empty_label=_("No referral"),
    )
    referral_reason = forms.CharField(
        label=_("Reason for the referral"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, prescribes: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not prescribes:
            for name in (*PRESCRIPTION_FIELDS, *REFERRAL_FIELDS):
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "medication" in self.fields and not data.get("medication"):
            for name in ("dose", "instructions", "refills"):
                if data.get(name) not in (None, "") and name not in self.errors:
                    self.add_error("medication", _("Name the medication, or leave its details empty."))
                    break
        if "specialty" in self.fields:
            if data.get("specialty") is not None and not data.get("referral_reason"):
                self.add_error("referral_reason", _("Say why you are referring the patient."))
            if (
                data.get("referral_reason")
                and data.get("specialty") is None
                and "specialty" not in self.errors
            ):
                self.add_error("specialty", _("Choose the specialty to refer to."))
        return data

    def prescription(self) -> PrescriptionInput | None:
        data = self.cleaned_data
        if not data.get("medication"):
            return None
        return PrescriptionInput(
            name=data["medication"],
            dose=data.get("dose") or "",
            instructions=data.get("instructions") or "",
            refills=data.get("refills"),
        )

    def referral(self) -> ReferralInput | None:
        data = self.cleaned_data
        if data.get("specialty") is None:
            return None
        return ReferralInput(specialty=data["specialty"], reason=data["referral_reason"])


class RedirectForm(forms.Form):
    """The e-visit needs a visit instead: what to tell the patient."""

    message = forms.CharField(
        label=_("Message to the patient"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Say what kind of visit they need and how soon. They are not charged for the e-visit."),
    )
