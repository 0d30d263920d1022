"""What every clinical row of the record shares."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.patients.models import Patient


class RecordItem(models.Model):
    """What every clinical row has: whose it is, how sensitive, and where it came from."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    # A confidential category slug (e.g. "mental-health") or blank; see
    # PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES and access.filter_confidential.
    sensitivity = models.CharField(_("sensitivity"), max_length=40, blank=True)
    # "system|value" from the system the row was imported from; blank when entered here.
    source_id = models.CharField(max_length=250, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "source_id"],
                condition=~Q(source_id=""),
                name="%(app_label)s_%(class)s_one_per_source_id",
            )
        ]
