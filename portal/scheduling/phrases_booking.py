"""How the booking part of scheduling reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

__all__ = ["_", "register"]

# Booking itself is audited as "appointment.book" (phrases.py): the booking pages show
# no health data, so they record no reads of their own.
