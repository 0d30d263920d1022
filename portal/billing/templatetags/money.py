"""`{{ cents|money }}` shows integer cents as dollars: 123450 -> $1,234.50."""

from __future__ import annotations

from typing import Any

from django import template

from portal.lib.money import format_cents

register = template.Library()


@register.filter
def money(cents: Any) -> str:
    if cents is None or cents == "":
        return ""
    return format_cents(int(cents))
