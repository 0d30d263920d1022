"""`user|works_in_billing`: whether the staff menu shows the billing office's workspace."""

from __future__ import annotations

from typing import Any

from django import template

from portal.billing.staff_access import works_in_billing as _works_in_billing

register = template.Library()


@register.filter
def works_in_billing(user: Any) -> bool:
    return _works_in_billing(user)
