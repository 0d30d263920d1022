"""Forms of the billing office: finding an account, posting money, refunds, coverage and claims.

Amounts are typed in dollars ("1,234.50") and become integer cents through
`lib.money.parse_cents`; anything else (a sign, three decimals, letters, more than the
largest bill) is a form error, never a rounded number.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.billing.models import Account, Claim, Payment, PriceItem, ServiceLine
from portal.billing.staff_actions import KEY_FORMAT, refundable_cents
from portal.bulk.forms import RowIdsField  # ids past the database's integer range are a form error
from portal.lib.money import BadAmount, format_cents, parse_cents
from portal.patients.models import Coverage, Patient

EARLIEST_SERVICE_DATE = dt.date(1900, 1, 1)
CLAIM_LINES_SHOWN = 50


class MoneyField(forms.Field):
    """Dollars and cents as typed, cleaned to integer cents (None when left empty)."""

    widget = forms.TextInput
    default_error_messages = {
        "invalid": _("Enter an amount in dollars and cents, such as 125.00."),
    }
    MAX_LENGTH = 20

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update(
            {
                "maxlength": str(self.MAX_LENGTH),
                "inputmode": "decimal",
                "autocomplete": "off",
                "class": "money-input",
            }
        )
        return attrs

    def to_python(self, value: Any) -> int | None:
        text = str(value).strip() if value is not None else ""
        if not text:
            return None
        try:
            if len(text) > self.MAX_LENGTH:
                raise BadAmount(text)
            return parse_cents(text)
        except BadAmount as error:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from error


def positive(cents: int | None) -> int:
    if not cents:
        raise forms.ValidationError(_("Enter an amount more than $0.00."), code="zero")
    return cents


class DayField(forms.DateField):
    """A date no later than today and not before 1900 (dates the database and people use)."""

    widget = forms.DateInput(attrs={"type": "date"})

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not EARLIEST_SERVICE_DATE <= value <= timezone.localdate():
            raise forms.ValidationError(_("Enter a date that is not in the future."), code="range")


class AccountSearchForm(forms.Form):
    q = forms.CharField(label=_("Name or clinic number"), max_length=100, strip=True)


class GuarantorForm(forms.Form):
    guarantor_name = forms.CharField(
        label=_("Guarantor's name"),
        max_length=200,
        required=False,
        help_text=_("Who pays the bills. Leave empty to use the name of the patient named below."),
    )
    clinic_number = forms.CharField(
        label=_("Guarantor's clinic number"),
        max_length=12,
        required=False,
        help_text=_("When the guarantor is also a patient here, such as a parent paying for a child."),
    )

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient

    def clean_clinic_number(self) -> Patient | None:
        number = self.cleaned_data["clinic_number"].replace("-", "").strip()
        if not number:
            return None
        found = Patient.objects.filter(clinic_number=number).first()
        if found is None:
            raise forms.ValidationError(_("No patient has that clinic number."), code="unknown")
        if found.pk == self.patient.pk:
            raise forms.ValidationError(
                _("That is this patient. Leave it empty when patients pay their own bills."), code="self"
            )
        return found

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("guarantor_name") and not cleaned.get("clinic_number") and not self.errors:
            raise forms.ValidationError(_("Enter the guarantor's name or clinic number."), code="empty")
        return cleaned


class SendOnceForm(forms.Form):
    """A form carrying a send-once key (drawn when the page is shown), so a double submit posts once."""

    key = forms.CharField(widget=forms.HiddenInput, max_length=80)

    def clean_key(self) -> str:
        key: str = self.cleaned_data["key"]
        if not KEY_FORMAT.match(key):
            raise forms.ValidationError(_("This form has expired. Reload the page and try again."))
        return key


class ChargeForm(SendOnceForm):
    """A service from the price list (its code fills the rest), or typed in full."""

    item = forms.CharField(
        label=_("Price list code"),
        max_length=20,
        required=False,
        help_text=_("Fills in the description and price. Leave empty to type them yourself."),
    )
    code = forms.CharField(
        label=_("Service code"),
        max_length=20,
        required=False,
        help_text=_("Needed unless a price list code is given."),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=200,
        required=False,
        help_text=_("Needed unless a price list code is given."),
    )
    amount = MoneyField(
        label=_("Charge"),
        required=False,
        help_text=_("In dollars, such as 250.00. Left empty, the price list's price is charged."),
    )
    service_date = DayField(label=_("Date of service"))
    insurance_paid = MoneyField(label=_("Insurance paid"), required=False)
    adjustment = MoneyField(label=_("Insurance adjustment"), required=False)
    claim = forms.ModelChoiceField(
        label=_("Claim"), queryset=Claim.objects.none(), required=False, empty_label=_("No claim")
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An account not yet saved (never billed) has no claims to pick from.
        claims = account.claims.all() if account.pk else Claim.objects.none()
        recent = claims.order_by("-service_date", "-id").values_list("pk", flat=True)[:50]
        self.fields["claim"].queryset = Claim.objects.filter(pk__in=list(recent)).order_by(  # type: ignore[attr-defined]
            "-service_date", "-id"
        )
        self.price_item: PriceItem | None = None

    def clean_item(self) -> str:
        code = self.cleaned_data["item"].strip()
        if code:
            self.price_item = PriceItem.objects.filter(code__iexact=code, active=True).first()
            if self.price_item is None:
                raise forms.ValidationError(_("No active service on the price list has that code."))
        return code

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        item = self.price_item
        if item is not None:
            cleaned["code"] = cleaned.get("code") or item.code
            cleaned["description"] = cleaned.get("description") or item.description
            if cleaned.get("amount") is None and "amount" not in self.errors:
                cleaned["amount"] = item.price_cents
        for name, message in (
            ("code", _("Enter the service code, or a price list code.")),
            ("description", _("Describe the service, or enter a price list code.")),
        ):
            if not cleaned.get(name) and name not in self.errors:
                self.add_error(name, message)
        if "amount" not in self.errors:
            try:
                cleaned["amount"] = positive(cleaned.get("amount"))
            except forms.ValidationError as error:
                self.add_error("amount", error)
        insurance = cleaned.get("insurance_paid") or 0
        adjustment = cleaned.get("adjustment") or 0
        cleaned["insurance_paid"], cleaned["adjustment"] = insurance, adjustment
        if not self.errors and insurance + adjustment > cleaned["amount"]:
            self.add_error("insurance_paid", _("Insurance paid and adjusted cannot be more than the charge."))
        return cleaned


class AdjustmentForm(SendOnceForm):
    amount = MoneyField(label=_("Amount to take off the balance"), help_text=_("In dollars, such as 40.00."))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        help_text=_("Required. Kept with the adjustment, such as a courtesy discount or a write-off."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_amount(self) -> int:
        return positive(self.cleaned_data["amount"])


class RefundForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput, max_length=80)
    amount = MoneyField(label=_("Amount to refund"))
    reason = forms.CharField(label=_("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, payment: Payment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.remaining = refundable_cents(payment)
        self.fields["amount"].help_text = _("Up to %(remaining)s.") % {
            "remaining": format_cents(self.remaining)
        }

    def clean_key(self) -> str:
        key: str = self.cleaned_data["key"]
        if not KEY_FORMAT.match(key):
            raise forms.ValidationError(_("This refund form has expired. Reload the page and try again."))
        return key

    def clean_amount(self) -> int:
        # The limit is checked again under a lock when the refund is reserved; a retry of a
        # waiting refund (same key) is finished by the action whatever remains.
        return positive(self.cleaned_data["amount"])


class BenefitsForm(forms.Form):
    deductible = MoneyField(label=_("Deductible"), initial="0.00")
    deductible_met = MoneyField(label=_("Deductible met so far"), initial="0.00")
    coinsurance_percent = forms.IntegerField(
        label=_("Coinsurance (percent the patient pays)"), min_value=0, max_value=100, initial=20
    )
    copay = MoneyField(label=_("Copay per visit"), initial="0.00")
    out_of_pocket_max = MoneyField(label=_("Out-of-pocket maximum"), initial="0.00")
    out_of_pocket_met = MoneyField(label=_("Out-of-pocket met so far"), initial="0.00")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pairs = (("deductible_met", "deductible"), ("out_of_pocket_met", "out_of_pocket_max"))
        for met, most in pairs:
            if (
                cleaned.get(met) is not None
                and cleaned.get(most) is not None
                and cleaned[met] > cleaned[most]
            ):
                self.add_error(
                    met, _("This cannot be more than %(most)s.") % {"most": self.fields[most].label}
                )
        return cleaned


class RejectCoverageForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it could not be verified"),
        max_length=300,
        help_text=_("The patient reads this: say what they should check or send."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def unclaimed_lines(account: Account) -> QuerySet[ServiceLine]:
    if not account.pk:  # never billed: nothing to claim
        return ServiceLine.objects.none()
    return ServiceLine.objects.filter(account=account, claim__isnull=True).order_by("-service_date", "-id")


class ClaimForm(forms.Form):
    number = forms.CharField(label=_("Claim number"), max_length=30)
    payer_name = forms.CharField(label=_("Insurance company"), max_length=150)
    coverage = forms.ModelChoiceField(
        label=_("Coverage"), queryset=Coverage.objects.none(), required=False, empty_label=_("Not linked")
    )
    service_date = DayField(label=_("Date of service"))
    submitted_on = DayField(label=_("Sent to insurance on"))
    status = forms.ChoiceField(label=_("Status"), choices=Claim.Status.choices)
    decided_on = DayField(label=_("Decided on"), required=False)
    billed = MoneyField(label=_("Billed"))
    paid = MoneyField(label=_("Insurance paid"), required=False)
    adjusted = MoneyField(label=_("Adjusted"), required=False)
    denial_reason = forms.CharField(label=_("Denial reason"), max_length=300, required=False)
    lines = RowIdsField(
        label=_("Services on this claim"),
        queryset=ServiceLine.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["coverage"].queryset = Coverage.objects.filter(patient_id=account.patient_id)  # type: ignore[attr-defined]
        shown = unclaimed_lines(account).values_list("pk", flat=True)[:CLAIM_LINES_SHOWN]
        self.fields["lines"].queryset = ServiceLine.objects.filter(pk__in=list(shown)).order_by(  # type: ignore[attr-defined]
            "-service_date", "-id"
        )

    def clean_number(self) -> str:
        number: str = self.cleaned_data["number"].strip()
        if Claim.objects.filter(number=number).exists():
            raise forms.ValidationError(_("A claim with this number is already recorded."))
        return number

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["paid"] = cleaned.get("paid") or 0
        cleaned["adjusted"] = cleaned.get("adjusted") or 0
        if "billed" in cleaned and not self.errors:
            if not cleaned["billed"]:
                self.add_error("billed", _("Enter an amount more than $0.00."))
            elif cleaned["paid"] + cleaned["adjusted"] > cleaned["billed"]:
                self.add_error("paid", _("Paid and adjusted cannot be more than was billed."))
        decided = cleaned.get("decided_on")
        if decided and cleaned.get("submitted_on") and decided < cleaned["submitted_on"]:
            self.add_error("decided_on", _("A claim is decided after it is sent."))
        return cleaned
