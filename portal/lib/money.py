"""Money is integer cents everywhere: parsing what people type and showing amounts.

Floats never touch money. An amount typed as "1,234.5" or "$1234.50" becomes 123450
cents through Decimal; anything with more than two decimal places, a sign, or letters is
refused rather than rounded, so what the patient sees is what is charged.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Digits with optional thousands commas, then at most two decimals.
_AMOUNT = re.compile(r"^\$?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")
# The largest amount anyone may type: ten million dollars, far above any bill.
MAX_CENTS = 10_000_000 * 100


class BadAmount(ValueError):
    """The text is not an amount of dollars and cents."""


def parse_cents(text: str) -> int:
    """'1,234.50' -> 123450. Raises BadAmount for anything else (negative, 3 decimals, text)."""
    cleaned = (text or "").strip()
    if not _AMOUNT.match(cleaned):
        raise BadAmount(cleaned)
    try:
        value = Decimal(cleaned.lstrip("$").strip().replace(",", ""))
    except InvalidOperation as error:
        raise BadAmount(cleaned) from error
    cents = int(value * 100)
    if cents > MAX_CENTS:
        raise BadAmount(cleaned)
    return cents


def format_cents(cents: int) -> str:
    """123450 -> '$1,234.50'; -500 -> '-$5.00' with a true minus sign (a credit)."""
    sign = "\u2212" if cents < 0 else ""
    dollars, rest = divmod(abs(int(cents)), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def plain_cents(cents: int) -> str:
    """123450 -> '1234.50': for form fields, where people retype it."""
    dollars, rest = divmod(abs(int(cents)), 100)
    return f"{'-' if cents < 0 else ''}{dollars}.{rest:02d}"
