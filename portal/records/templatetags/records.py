from __future__ import annotations

from typing import Any

from django import template
from django.db import models
from django.utils.html import format_html
from django.utils.translation import gettext

from portal.records.models import Observation

register = template.Library()


@register.inclusion_tag("records/includes/looks_wrong.html")
def looks_wrong(item: models.Model) -> dict[str, Any]:
    """The "this looks wrong" link that opens a correction request for one record item."""
    return {"item_type": item._meta.label_lower, "item_id": item.pk, "item": item}


_FLAG_ICONS = {"H": "▲", "HH": "▲", "L": "▼", "LL": "▼"}


@register.simple_tag
def result_flag(row: Observation) -> str:
    """A value's flag in words (an arrow beside it only as an extra, hidden from screen readers).

    A tag, not an include: it runs once per value on the longest pages.
    """
    if not row.interpretation:
        return format_html('<span class="muted">{}</span>', gettext("Not flagged"))
    icon = ""
    if row.is_abnormal:
        icon = format_html(
            '<span class="flag-icon" aria-hidden="true">{}</span> ', _FLAG_ICONS.get(row.interpretation, "!")
        )
    return format_html(
        '<span class="flag flag-{}">{}{}</span>',
        row.interpretation.lower(),
        icon,
        row.get_interpretation_display(),
    )
