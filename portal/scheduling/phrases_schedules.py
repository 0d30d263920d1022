"""How the schedules part of scheduling reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

__all__ = ["_", "register"]
