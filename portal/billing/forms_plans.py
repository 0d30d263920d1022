"""The payment plan form: how much, over how many months, from which card, starting when."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.billing import plans
from portal.billing.models import SavedCard
from portal.lib.money import BadAmount, format_cents, parse_cents, plain_cents

NO_CARD = "none"
CHOOSE = {
    "invalid_choice": gettext_lazy("Choose one of the options shown."),
    "required": gettext_lazy("Choose one of the options."),
}


def months_label(months: int, total_cents: int) -> str:
    parts = plans.split_cents(total_cents, months)
    if parts[0] == parts[-1]:
        return _("%(months)s months: %(amount)s a month") % {
            "months": months,
            "amount": format_cents(parts[0]),
        }
    return _("%(months)s months: %(first)s, then %(rest)s a month") % {
        "months": months,
        "first": format_cents(parts[0]),
        "rest": format_cents(parts[-1]),
    }


def card_label(card: SavedCard) -> str:
    return _("%(card)s, expires %(month)02d/%(year)s") % {
        "card": str(card),
        "month": card.exp_month,
        "year": card.exp_year,
    }


class PlanForm(forms.Form):
    """A plan within the rules for this balance; `cards` are the ones it may charge."""

    amount = forms.CharField(
        label=gettext_lazy("Amount to pay over time"),
        max_length=20,
        required=False,
        help_text=gettext_lazy("Leave it as it is to cover everything you owe, or enter a smaller amount."),
    )
    months = forms.TypedChoiceField(
        label=gettext_lazy("Number of monthly payments"),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages=CHOOSE,
    )
    card = forms.ChoiceField(
        label=gettext_lazy("Card to charge each month"), widget=forms.RadioSelect, error_messages=CHOOSE
    )
    start_on = forms.DateField(
        label=gettext_lazy("First payment date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy(
            "Today, or a day within the next 30 days. Later payments fall on the same day each month."
        ),
        error_messages={
            "invalid": gettext_lazy("Enter a real date, such as 2027-03-31."),
            "required": gettext_lazy("Enter the date of the first payment."),
        },
    )

    def __init__(
        self,
        data: Any = None,
        *,
        balance_cents: int,
        cards: list[SavedCard],
        allow_no_card: bool = False,
    ) -> None:
        today = timezone.localdate()
        initial = {"amount": plain_cents(max(balance_cents, 0)), "start_on": today}
        super().__init__(data, initial=initial)
        self.balance_cents = balance_cents
        self.cards = cards
        choices = [(str(card.pk), card_label(card)) for card in cards]
        if allow_no_card:
            choices.append((NO_CARD, _("No card: the patient pays each instalment online")))
        card_field = cast(forms.ChoiceField, self.fields["card"])
        card_field.choices = choices
        self.fields["start_on"].widget.attrs.update(
            min=today.isoformat(), max=(today + dt.timedelta(days=plans.START_WITHIN_DAYS)).isoformat()
        )
        # Any length within the rules validates (the rules then say what is wrong with it);
        # the radios offer the lengths the amount allows, each with its monthly payment.
        months_field = cast(forms.TypedChoiceField, self.fields["months"])
        months_field.choices = [
            (str(months), str(months))
            for months in range(plans.MIN_MONTHS, settings.PORTAL_PLAN_MAX_MONTHS + 1)
        ]
        total = self._typed_amount() or balance_cents
        if not plans.plan_options(total):
            total = balance_cents
        offered = plans.plan_options(total)
        months_field.widget.choices = [
            (str(months), months_label(months, total)) for months, _first in offered
        ]

    def _typed_amount(self) -> int | None:
        """The amount typed in the bound form, if it reads as one (for the month labels)."""
        if not self.is_bound:
            return None
        try:
            return parse_cents(str(self.data.get("amount", "")))
        except BadAmount:
            return None

    def clean_amount(self) -> int:
        text = self.cleaned_data.get("amount", "")
        if not text.strip():
            return self.balance_cents
        try:
            cents = parse_cents(text)
        except BadAmount:
            raise forms.ValidationError(_("Enter an amount in dollars and cents, such as 450.00.")) from None
        if cents <= 0:
            raise forms.ValidationError(_("Enter an amount more than $0.00."))
        return cents

    def clean_card(self) -> SavedCard | None:
        chosen = self.cleaned_data.get("card")
        if chosen == NO_CARD:
            return None
        return next(card for card in self.cards if str(card.pk) == chosen)

    def clean_start_on(self) -> dt.date:
        start_on: dt.date = self.cleaned_data["start_on"]
        try:
            plans.check_start(start_on, timezone.localdate())
        except plans.PlanRefused as refusal:
            raise forms.ValidationError(refusal.message) from None
        return start_on

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        amount, months = cleaned.get("amount"), cleaned.get("months")
        if amount is not None and months is not None:
            try:
                plans.check_plan(self.balance_cents, amount, months)
            except plans.PlanRefused as refusal:
                raise forms.ValidationError(refusal.message) from None
        return cleaned

    def schedule(self) -> list[tuple[dt.date, int]]:
        """The instalments this (valid) form describes."""
        data = self.cleaned_data
        return plans.schedule(data["amount"], data["months"], data["start_on"])

    def hidden_values(self) -> dict[str, str]:
        """What the confirm step posts back, as typed values."""
        data = self.cleaned_data
        card = data["card"]
        return {
            "amount": plain_cents(data["amount"]),
            "months": str(data["months"]),
            "card": str(card.pk) if card is not None else NO_CARD,
            "start_on": data["start_on"].isoformat(),
        }


class PlanCardForm(forms.Form):
    """Another of the card holder's saved cards for the plan."""

    card = forms.ChoiceField(
        label=gettext_lazy("Charge the plan to"), widget=forms.RadioSelect, error_messages=CHOOSE
    )

    def __init__(self, data: Any = None, *, cards: list[SavedCard]) -> None:
        super().__init__(data)
        self.cards = cards
        card_field = cast(forms.ChoiceField, self.fields["card"])
        card_field.choices = [(str(card.pk), card_label(card)) for card in cards]

    def clean_card(self) -> SavedCard:
        chosen = self.cleaned_data.get("card")
        return next(card for card in self.cards if str(card.pk) == chosen)
