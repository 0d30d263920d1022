"""How the referrals part of messaging reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _  # noqa: F401

from portal.audit.vocabulary import register  # noqa: F401
