"""Forms for cost estimates and disputes: what to estimate, why a bill is disputed, the office's decision."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Q
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from portal.billing.disputes import MAX_REASON, Comparison
from portal.billing.estimates import MAX_SERVICES, price_list
from portal.billing.models import PriceItem
from portal.lib import campus_time
from portal.lib.money import BadAmount, parse_cents
from portal.scheduling.models import Appointment, VisitType

CHOOSE = {
    "invalid_choice": _("Choose one of the options shown."),
    "required": _("Choose one of the options."),
}
# How many services of the price list the form shows at once; a search finds the others.
SHOWN_SERVICES = 30
LARGEST_ID = 10**18


def _ids(raw: list[str]) -> list[int]:
    found: list[int] = []
    for value in raw[: MAX_SERVICES + 1]:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if 0 < number < LARGEST_ID:
            found.append(number)
    return found


def _by_pk(rows: list[Any], pk: Any) -> Any:
    return next((row for row in rows if pk is not None and row.pk == pk), None)


class EstimateForm(forms.Form):
    """What to estimate: an appointment type, services from the price list, or an upcoming visit."""

    visit_type = forms.TypedChoiceField(
        label=_("Appointment type"), coerce=int, required=False, empty_value=None, error_messages=CHOOSE
    )
    q = forms.CharField(
        label=_("Search the price list"),
        required=False,
        max_length=100,
        help_text=_("A service's name or code, such as “X-ray” or 71046."),
    )
    services = forms.TypedMultipleChoiceField(
        label=_("Services"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": _("Choose services from the price list."),
            "invalid_list": _("Choose services from the price list."),
        },
    )
    appointment = forms.TypedChoiceField(
        label=_("For an upcoming appointment"),
        coerce=int,
        required=False,
        empty_value=None,
        error_messages=CHOOSE,
    )
    self_pay = forms.BooleanField(label=_("I will pay myself, without insurance"), required=False)

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        visit_types: list[VisitType],
        appointments: list[Appointment],
        searching: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        self.searching = searching
        self.visit_types = visit_types
        self.appointments = appointments
        chosen_ids = _ids(data.getlist("services")) if data is not None else []
        self.too_many = len(chosen_ids) > MAX_SERVICES
        self.chosen_services = list(price_list().filter(pk__in=chosen_ids[:MAX_SERVICES]))
        self.found_services, self.more_found = self._search(data.get("q", "") if data is not None else "")
        shown = self.chosen_services + [
            item for item in self.found_services if item not in self.chosen_services
        ]
        self._choice("visit_type").choices = [
            ("", _("Choose an appointment type")),
            *((str(kind.pk), kind.name) for kind in visit_types),
        ]
        self._choice("services").choices = [
            (str(item.pk), f"{item.description} ({item.code})") for item in shown
        ]
        self._choice("appointment").choices = [
            ("", _("None")),
            *((str(visit.pk), self._appointment_label(visit)) for visit in appointments),
        ]

    def _choice(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    @staticmethod
    def _appointment_label(visit: Appointment) -> str:
        return f"{visit.visit_type.name}, {campus_time.when_label(visit.starts_at, visit.campus)}"

    @staticmethod
    def _search(text: str) -> tuple[list[PriceItem], bool]:
        # Searched before the form validates `q`: PostgreSQL refuses a NUL in a query (a 500),
        # and no price list entry holds one.
        text = (text or "").replace("\x00", "").strip()[:100]
        items = price_list()
        if text:
            items = items.filter(
                Q(description__icontains=text) | Q(code__iexact=text) | Q(code__startswith=text)
            )
        found = list(items[: SHOWN_SERVICES + 1])
        return found[:SHOWN_SERVICES], len(found) > SHOWN_SERVICES

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.too_many:
            self.add_error("services", _("Choose at most %(count)s services.") % {"count": MAX_SERVICES})
        visit_type = _by_pk(self.visit_types, data.get("visit_type"))
        appointment = _by_pk(self.appointments, data.get("appointment"))
        services = [item for item in self.chosen_services if item.pk in set(data.get("services") or [])]
        if visit_type is None and appointment is not None:
            visit_type = appointment.visit_type
        data.update(visit_type=visit_type, appointment=appointment, services=services)
        if not self.searching and not self.errors and visit_type is None and not services:
            self.add_error(None, _("Choose an appointment type, a service or an appointment."))
        return data


class DisputeForm(forms.Form):
    """Which Good Faith Estimate the bill is compared with, and why the patient disputes it."""

    estimate = forms.TypedChoiceField(
        label=_("Good Faith Estimate"), coerce=int, widget=forms.RadioSelect, error_messages=CHOOSE
    )
    reason = forms.CharField(
        label=_("Why you are disputing this bill"),
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "In your own words: what you were told it would cost and what you were billed. Up to 4,000 characters."
        ),
        error_messages={"required": _("Say why you are disputing this bill.")},
    )

    def __init__(self, *args: Any, comparisons: list[Comparison], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.comparisons = comparisons
        cast(forms.ChoiceField, self.fields["estimate"]).choices = [
            (str(row.estimate.pk), row.estimate.number) for row in comparisons
        ]
        eligible = [row for row in comparisons if row.disputable]
        if len(eligible) == 1 and not self.is_bound:
            self.initial.setdefault("estimate", str(eligible[0].estimate.pk))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["comparison"] = next(
            (row for row in self.comparisons if row.estimate.pk == data.get("estimate")), None
        )
        return data


class DecideForm(forms.Form):
    """The billing office's decision on a dispute."""

    class Outcome:
        UPHOLD = "uphold"
        DECLINE = "decline"

    outcome = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (Outcome.UPHOLD, _("Uphold: lower the bill by an adjustment")),
            (Outcome.DECLINE, _("Decline: the bill stands")),
        ],
        error_messages=CHOOSE,
    )
    amount = forms.CharField(
        label=_("Adjustment amount"),
        required=False,
        max_length=20,
        help_text=_("In dollars, such as 450.00. Only when upholding."),
    )
    decision = forms.CharField(
        label=_("Written decision"),
        required=False,
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("The patient reads this. Required when declining."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        uphold = data.get("outcome") == self.Outcome.UPHOLD
        data["uphold"] = uphold
        data["adjustment_cents"] = 0
        if uphold:
            try:
                data["adjustment_cents"] = parse_cents(data.get("amount", ""))
            except BadAmount:
                self.add_error("amount", _("Enter the adjustment in dollars and cents, such as 450.00."))
            else:
                if data["adjustment_cents"] <= 0:
                    self.add_error("amount", _("The adjustment must be more than $0.00."))
        elif data.get("outcome") == self.Outcome.DECLINE and not (data.get("decision") or "").strip():
            self.add_error("decision", _("Write why the bill stands: the patient reads it."))
        return data
