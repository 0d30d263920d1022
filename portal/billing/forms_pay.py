"""The pay form: how much (the balance, a statement, another amount) and with what card.

Card numbers never come here: the gateway's own form in the browser turns the card into
a token, which arrives in the hidden `token` field with the brand and last four digits
to show on the confirm step. The hidden `key` names this payment attempt (see
`billing/payments.py`): every resubmission of one rendered form carries the same key.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.billing.models import Funding, SavedCard
from portal.billing.payments import KEY_FORMAT
from portal.lib.money import MAX_CENTS, BadAmount, format_cents, parse_cents

BALANCE, STATEMENT, OTHER = "balance", "statement", "other"
NEW_CARD, HSA_CARD, SAVED = "card", "hsa", "saved-"
REVIEW, PAY = "review", "pay"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
CHOOSE = {
    "invalid_choice": _("Choose one of the options shown."),
    "required": _("Choose one of the options."),
}


def new_key() -> str:
    """A fresh idempotency key for one rendered pay form."""
    return uuid.uuid4().hex


def card_label(card: SavedCard) -> str:
    label = _("%(brand)s ending %(last4)s, expires %(month)02d/%(year)s") % {
        "brand": card.brand,
        "last4": card.last4,
        "month": card.exp_month,
        "year": card.exp_year,
    }
    if card.funding == Funding.HSA:
        label += " " + str(_("(health savings account)"))
    return str(label)


class PayForm(forms.Form):
    """One payment's choices. `amount_cents`, `saved_card` and `funding` are set by `clean`."""

    amount_choice = forms.ChoiceField(label=_("How much"), widget=forms.RadioSelect, error_messages=CHOOSE)
    other_amount = forms.CharField(
        label=_("Another amount"),
        required=False,
        max_length=30,
        help_text=_("In dollars and cents, for example 25.00."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    method = forms.ChoiceField(label=_("Pay with"), widget=forms.RadioSelect, error_messages=CHOOSE)
    save_card = forms.BooleanField(label=_("Save this card for later payments"), required=False)
    # Hidden fields, written by hand in the templates (a re-rendered form gets a new key and
    # no token) and checked in `clean`, so a tampered one never shows as a field error.
    token = forms.CharField(required=False)
    card_brand = forms.CharField(required=False)
    card_last4 = forms.CharField(required=False)
    key = forms.CharField(required=False)
    step = forms.CharField(required=False)
    # What the confirm step showed: the payment is taken only if both still hold.
    confirmed_cents = forms.IntegerField(required=False, min_value=0, max_value=MAX_CENTS)
    patient = forms.IntegerField(required=False, min_value=0, max_value=2**62)

    def __init__(
        self,
        data: Any = None,
        *,
        balance_cents: int,
        saved_cards: list[SavedCard],
        statement_number: str = "",
        statement_cents: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        self.balance_cents = balance_cents
        self.statement_cents = statement_cents
        self.saved_cards = saved_cards
        self.amount_cents = 0
        self.saved_card: SavedCard | None = None
        self.funding: str = Funding.UNKNOWN
        amounts: list[tuple[str, Any]] = [
            (BALANCE, _("The full balance: %(amount)s") % {"amount": format_cents(balance_cents)})
        ]
        if statement_number and statement_cents > 0:
            amounts.append(
                (
                    STATEMENT,
                    _("What is left on statement %(number)s: %(amount)s")
                    % {"number": statement_number, "amount": format_cents(statement_cents)},
                )
            )
        amounts.append((OTHER, _("Another amount")))
        cast(forms.ChoiceField, self.fields["amount_choice"]).choices = amounts
        methods: list[tuple[str, Any]] = [(SAVED + str(card.pk), card_label(card)) for card in saved_cards]
        methods += [
            (NEW_CARD, _("A new credit or debit card")),
            (HSA_CARD, _("A health savings account (HSA) card")),
        ]
        cast(forms.ChoiceField, self.fields["method"]).choices = methods

    def clean_card_brand(self) -> str:
        return str(self.cleaned_data.get("card_brand", ""))[:20]

    def clean_card_last4(self) -> str:
        last4: str = self.cleaned_data.get("card_last4", "")
        return last4 if last4.isdigit() and len(last4) == 4 else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not KEY_FORMAT.match(cleaned.get("key") or ""):
            raise forms.ValidationError(_("This payment form has expired. Reload the page and try again."))
        if cleaned.get("step") not in (REVIEW, PAY):
            cleaned["step"] = REVIEW
        self._clean_amount(cleaned)
        self._clean_method(cleaned)
        return cleaned

    def _clean_amount(self, cleaned: dict[str, Any]) -> None:
        choice = cleaned.get("amount_choice")
        if choice == BALANCE:
            self.amount_cents = self.balance_cents
        elif choice == STATEMENT:
            self.amount_cents = self.statement_cents
        elif choice == OTHER:
            self.amount_cents = self._other_amount(cleaned.get("other_amount", ""))
        if choice in (BALANCE, STATEMENT) and self.amount_cents <= 0:
            self.add_error("amount_choice", _("There is nothing to pay."))
        elif choice and self.amount_cents > self.balance_cents:
            self.add_error(
                "other_amount" if choice == OTHER else "amount_choice",
                _("That is more than you owe (%(balance)s). Enter a smaller amount.")
                % {"balance": format_cents(max(self.balance_cents, 0))},
            )

    def _other_amount(self, text: str) -> int:
        if not text.strip():
            self.add_error("other_amount", _("Enter the amount you want to pay."))
            return 0
        try:
            cents = parse_cents(text)
        except BadAmount:
            self.add_error(
                "other_amount",
                _("Enter an amount in dollars and cents, like 25.00, with no more than two decimals."),
            )
            return 0
        if cents <= 0:
            self.add_error("other_amount", _("Enter an amount more than $0.00."))
        return cents

    def _clean_method(self, cleaned: dict[str, Any]) -> None:
        method = cleaned.get("method") or ""
        if method.startswith(SAVED):
            self.saved_card = next(card for card in self.saved_cards if SAVED + str(card.pk) == method)
            self.funding = self.saved_card.funding
            cleaned["token"] = ""
            cleaned["save_card"] = False
        elif method in (NEW_CARD, HSA_CARD):
            self.funding = Funding.HSA if method == HSA_CARD else Funding.UNKNOWN
            token = cleaned.get("token") or ""
            if token and not TOKEN.match(token):
                self.add_error(None, _("The card could not be read. Enter it again."))
            elif not token:
                self.add_error(
                    None,
                    _(
                        "Enter your card details. Paying by card needs JavaScript turned on in your browser; "
                        "you can also pay with a saved card, or by bank transfer or check."
                    ),
                )

    def method_label(self) -> str:
        """The card, as the confirm step names it: "Visa ending 4242"."""
        if self.saved_card is not None:
            return card_label(self.saved_card)
        brand = self.cleaned_data.get("card_brand") or _("card")
        last4 = self.cleaned_data.get("card_last4")
        label = _("%(brand)s ending %(last4)s") % {"brand": brand, "last4": last4} if last4 else str(brand)
        if self.funding == Funding.HSA:
            label = _("%(card)s (health savings account)") % {"card": label}
        return str(label)


class SaveCardForm(forms.Form):
    """Adding a card without paying: the gateway's browser form puts a reusable token here."""

    token = forms.CharField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        token = cleaned.get("token") or ""
        if not token:
            raise forms.ValidationError(
                _("Enter your card details. Adding a card needs JavaScript turned on in your browser.")
            )
        if not TOKEN.match(token):
            raise forms.ValidationError(_("The card could not be read. Enter it again."))
        return cleaned
