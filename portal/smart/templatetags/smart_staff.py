"""Whether the staff navigation shows app review."""

from __future__ import annotations

from typing import Any

from django import template

from portal.smart.actions import may_review_apps

register = template.Library()


@register.filter
def reviews_apps(user: Any) -> bool:
    return bool(getattr(user, "is_workforce", False)) and may_review_apps(user)
