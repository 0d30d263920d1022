"""The installable app's tags: the name of the signed-in user's offline cache."""

from __future__ import annotations

from typing import Any

from django import template

from portal.core.pwa import health_cache_name

register = template.Library()


@register.simple_tag(takes_context=True)
def pwa_cache_name(context: template.Context) -> str:
    user: Any = context.get("user")
    return health_cache_name(user) if user is not None and user.is_authenticated else ""
