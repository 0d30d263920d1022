"""The transactions page's filter: a kind of entry and a range of days, all optional."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.billing.overview import KIND_LABELS, LedgerFilter
from portal.lib.date_range import check_date_range


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a real date, such as 2027-03-31.")},
    )


class TransactionFilterForm(forms.Form):
    """Which ledger entries to show. Bad values are explained; the list is then unfiltered."""

    kind = forms.ChoiceField(
        label=_("Kind"),
        required=False,
        choices=[("", _("All kinds")), *KIND_LABELS.items()],
        error_messages={"invalid_choice": _("Choose one of the kinds shown.")},
    )
    date_from = _date_field(_("From"))
    date_to = _date_field(_("To"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        check_date_range(self, data, "date_from", "date_to")
        return data

    def wanted(self) -> LedgerFilter:
        """The filter asked for; no filter unless the form is bound and valid."""
        if not self.is_bound or not self.is_valid():
            return LedgerFilter()
        data = self.cleaned_data
        return LedgerFilter(data.get("kind") or "", data.get("date_from"), data.get("date_to"))
