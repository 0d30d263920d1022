from __future__ import annotations

from typing import Any

from django import template
from django.db import models

register = template.Library()


@register.inclusion_tag("records/includes/looks_wrong.html")
def looks_wrong(item: models.Model) -> dict[str, Any]:
    """The "this looks wrong" link that opens a correction request for one record item."""
    return {"item_type": item._meta.label_lower, "item_id": item.pk, "item": item}
