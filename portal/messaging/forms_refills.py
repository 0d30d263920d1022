"""Forms for refills: the request (medications, pharmacy, notes), pharmacies, and staff decisions.

The request form offers only the patient's active medications the viewer may see; the
rules that can change between showing the form and sending it (renewable online, not
already requested) are the action's to enforce, so they hold however the form is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.messaging.actions_refills import NewPharmacy, not_renewable_reason
from portal.messaging.models import Pharmacy, RefillRequest
from portal.messaging.refill_status import RefillState, refillable
from portal.records.models import Medication

NEW_PHARMACY = "new"
NOTES_MAX = 2000


@dataclass(frozen=True)
class MedicationRow:
    """One active medication on the form: whether it may be chosen, and why not."""

    medication: Medication
    state: RefillState | None
    checked: bool

    @property
    def requestable(self) -> bool:
        return refillable(self.medication, self.state)

    @property
    def waiting(self) -> bool:
        return self.state is not None and self.state.is_open

    @property
    def reason(self) -> str:
        return "" if self.medication.renewable_online else not_renewable_reason(self.medication)


def _text(label: Any, max_length: int, *, missing: Any = None, rows: int = 0) -> forms.CharField:
    """A text field; `missing` (what to say when it is left empty) makes it required."""
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    messages = {"max_length": _("Use at most %(limit_value)d characters.")}
    if missing is not None:
        messages["required"] = missing
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=missing is not None,
        widget=widget,
        error_messages=messages,
    )


class RefillRequestForm(forms.Form):
    """Which medications, which pharmacy, and anything the care team should know."""

    medications = forms.MultipleChoiceField(
        label=_("Medications to refill"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("Choose at least one medication to refill."),
            "invalid_choice": _("Choose only medications from your list of active medications."),
        },
    )
    pharmacy = forms.ChoiceField(
        label=_("Pharmacy"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose the pharmacy to send the refill to."),
            "invalid_choice": _("That pharmacy is no longer saved. Choose another."),
        },
    )
    new_name = _text(_("Pharmacy name"), 150)
    new_address = _text(_("Pharmacy address"), 300)
    new_phone = _text(_("Pharmacy phone"), 30)
    notes = _text(_("Notes for your care team"), NOTES_MAX, rows=4)

    def __init__(
        self,
        *args: Any,
        medications: list[Medication],
        states: dict[int, RefillState],
        pharmacies: list[Pharmacy],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.medication_list = medications
        self.states = states
        self.pharmacy_list = pharmacies
        self._choice("medications").choices = [(str(each.pk), str(each)) for each in medications]
        self._choice("pharmacy").choices = [
            *((str(each.pk), _pharmacy_label(each)) for each in pharmacies),
            (NEW_PHARMACY, _("Another pharmacy (enter it below)")),
        ]
        self.fields["notes"].help_text = _("For example: the dose you take now. Up to 2,000 characters.")

    def _choice(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def medication_rows(self) -> list[MedicationRow]:
        chosen = {str(value) for value in self._chosen()}
        return [
            MedicationRow(each, self.states.get(each.pk), str(each.pk) in chosen)
            for each in self.medication_list
        ]

    def _chosen(self) -> list[Any]:
        if self.is_bound:
            return self.data.getlist("medications") if hasattr(self.data, "getlist") else []
        return list(self.initial.get("medications", []))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["medication_ids"] = [int(value) for value in data.get("medications", [])]
        choice = data.get("pharmacy")
        data["new_pharmacy"] = None
        data["pharmacy_row"] = None
        if choice == NEW_PHARMACY:
            if not data.get("new_name", "").strip():
                self.add_error("new_name", _("Enter the pharmacy's name, or choose a saved pharmacy."))
            else:
                data["new_pharmacy"] = NewPharmacy(
                    data["new_name"], data.get("new_address", ""), data.get("new_phone", "")
                )
        elif choice:
            data["pharmacy_row"] = next((each for each in self.pharmacy_list if str(each.pk) == choice), None)
        return data


def _pharmacy_label(pharmacy: Pharmacy) -> str:
    return " · ".join(part for part in (pharmacy.name, pharmacy.address, pharmacy.phone) if part)


class PharmacyForm(forms.Form):
    """A pharmacy to save for refills."""

    name = _text(_("Pharmacy name"), 150, missing=_("Enter the pharmacy's name."))
    address = _text(_("Address"), 300)
    phone = _text(_("Phone"), 30)
    preferred = forms.BooleanField(label=_("Use this pharmacy by default"), required=False)


class ApproveForm(forms.Form):
    note = _text(_("Note for the patient"), NOTES_MAX, rows=2)


class DenyForm(forms.Form):
    reason = _text(
        _("Reason the refill is declined"),
        NOTES_MAX,
        missing=_("Give the patient the reason the refill is declined."),
        rows=3,
    )


class AskForm(forms.Form):
    question = _text(
        _("Question for the patient"), NOTES_MAX, missing=_("Write the question for the patient."), rows=3
    )


class StaffFilterForm(forms.Form):
    """Which refill requests the staff list shows; open ones unless asked otherwise."""

    OPEN = "open"
    EVERY = "all"
    STATUS_CHOICES = [
        (OPEN, _("Open (not yet decided)")),
        *RefillRequest.Status.choices,
        (EVERY, _("Every status")),
    ]

    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)

    def statuses(self) -> list[str] | None:
        """The statuses to show, or None for every status."""
        chosen = self.cleaned_data.get("status") if self.is_valid() else ""
        if chosen == self.EVERY:
            return None
        if chosen in RefillRequest.Status.values:
            return [chosen]
        return list(RefillRequest.OPEN_STATUSES)
