"""The sandbox's test cards: which numbers succeed, decline, ask for the bank's check, or fail.

Any other number that passes the Luhn check succeeds; one that fails it is refused as
mistyped, as a real processor would.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.billing.models import SandboxToken


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    funding: str
    behaviour: str
    note: str


# The notes are translated where they are shown (the pay page lists them in the reader's language).
TEST_CARDS: tuple[TestCard, ...] = (
    TestCard("4242424242424242", "Visa", "credit", "succeed", gettext_noop("Visa: paid")),
    TestCard("5555555555554444", "Mastercard", "credit", "succeed", gettext_noop("Mastercard: paid")),
    TestCard(
        "378282246310005", "American Express", "credit", "succeed", gettext_noop("American Express: paid")
    ),
    TestCard("6011111111111117", "Discover", "credit", "succeed", gettext_noop("Discover: paid")),
    TestCard("4000056655665556", "Visa", "debit", "succeed", gettext_noop("Visa debit: paid")),
    TestCard(
        "4000000000000077", "Visa", "hsa", "succeed", gettext_noop("Health savings account card (Visa): paid")
    ),
    TestCard("4000000000000002", "Visa", "credit", "decline", gettext_noop("Declined by the bank")),
    TestCard(
        "4000000000009995", "Visa", "credit", "insufficient_funds", gettext_noop("Declined: not enough money")
    ),
    TestCard(
        "4000002500003155",
        "Visa",
        "credit",
        "authenticate",
        gettext_noop("Asks for the bank's check (3-D Secure)"),
    ),
    TestCard(
        "4000000000000119",
        "Visa",
        "credit",
        "fail_after_delay",
        gettext_noop("The processor fails after a delay"),
    ),
)
BY_NUMBER = {card.number: card for card in TEST_CARDS}


class CardRejected(ValueError):
    """The card details cannot be tokenised; the text says why, for the payer."""


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4]) <= 2720:
        return "Mastercard"
    if number[:2] in {"34", "37"}:
        return "American Express"
    if number.startswith(("6011", "65")) or 644 <= int(number[:3]) <= 649:
        return "Discover"
    return ""


def tokenise(number: str, exp_month: int, exp_year: int, cvc: str, *, reusable: bool = False) -> SandboxToken:
    """A single-use (or reusable, for saving) token for the card; the number itself is not kept."""
    number = "".join(ch for ch in number if ch.isdigit())
    if not 13 <= len(number) <= 19 or not luhn_ok(number):
        raise CardRejected(_("The card number is not valid. Check it and try again."))
    brand = brand_of(number)
    if not brand:
        raise CardRejected(_("We accept Visa, Mastercard, American Express and Discover."))
    if not 1 <= exp_month <= 12 or not 2000 <= exp_year <= 2100:
        raise CardRejected(_("The expiry date is not valid."))
    today = timezone.now().date()
    if (exp_year, exp_month) < (today.year, today.month):
        raise CardRejected(_("The card has expired."))
    if not cvc.isdigit() or len(cvc) != (4 if brand == "American Express" else 3):
        raise CardRejected(_("The security code is not valid."))
    known = BY_NUMBER.get(number)
    return SandboxToken.objects.create(
        token=("pm_sbx_" if reusable else "tok_sbx_") + secrets.token_urlsafe(18),
        brand=brand,
        last4=number[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        funding=known.funding if known else "credit",
        behaviour=known.behaviour if known else "succeed",
        reusable=reusable,
        created_at=timezone.now(),
    )


def expiry_year(two_or_four_digits: int) -> int:
    return two_or_four_digits + 2000 if two_or_four_digits < 100 else two_or_four_digits
