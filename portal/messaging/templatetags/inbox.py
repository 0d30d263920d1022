"""Template filters and tags of the staff inbox: the navigation link, short labelled times,
staff names, and the workspace home's overview of the user's pools."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.conf import settings
from django.utils import formats, timezone

from portal.lib import campus_time
from portal.organization.models import Campus

register = template.Library()


@register.filter
def works_in_a_pool(user: Any) -> bool:
    """Whether the staff navigation shows the inbox: the user is an active member of a pool."""
    from portal.messaging.access import staff_pools

    return staff_pools(user).exists()


@register.filter
def inbox_time(value: dt.datetime | None, campus: Campus | None) -> str:
    """A short time in the campus's zone with its abbreviation ("3/4/2026 9:05 a.m. CST")."""
    if value is None:
        return ""
    moment = campus_time.local(value, campus) if campus is not None else timezone.localtime(value)
    return f"{formats.date_format(moment, 'SHORT_DATETIME_FORMAT')} {moment.tzname() or ''}".strip()


@register.filter
def inbox_when(value: dt.datetime | None, campus: Campus | None) -> str:
    """The full, labelled time in the campus's zone (the server's zone if there is no campus)."""
    if value is None:
        return ""
    if campus is not None:
        return campus_time.when_label(value, campus)
    moment = timezone.localtime(value)
    return f"{formats.date_format(moment, 'DATETIME_FORMAT')} {moment.tzname() or settings.TIME_ZONE}"


@register.filter
def staff_name(user: Any) -> str:
    """A member of staff as colleagues know them (the practitioner's name), else the user's name."""
    if user is None:
        return ""
    from portal.messaging.staff_actions import staff_name as name_of

    return name_of(user)


@register.filter
def prescribes(user: Any) -> bool:
    """Whether the user may approve or decline refills and referrals (`roles.prescribes`)."""
    from portal.messaging.roles import prescribes as decides

    return decides(user)


@register.filter
def is_clinician(user: Any) -> bool:
    """Whether the user may ask about a refill or carry an approved referral forward."""
    from portal.messaging.roles import is_clinician as clinical

    return clinical(user)


@register.inclusion_tag("messaging/staff/includes/overview.html", takes_context=True)
def inbox_overview(context: template.Context) -> dict[str, Any]:
    """The user's pools with how much waits in each (new and overdue, counted up to a cap)."""
    from portal.messaging.access import staff_pools
    from portal.messaging.views_inbox import pool_counts

    user = context.get("user")
    pools = list(staff_pools(user).order_by("name", "pk")) if user is not None else []
    return {"rows": [(pool, pool_counts(pool)) for pool in pools]}
