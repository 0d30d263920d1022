"""`user|reviews_evisits`: whether the staff menu shows the e-visit queue."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def reviews_evisits(user: Any) -> bool:
    """An active member of any e-visit condition's review team."""
    from portal.telehealth.staff_views_evisits import reviews_evisits as is_reviewer

    return is_reviewer(user)
