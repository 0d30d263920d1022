"""Demo data for proxy access: an invitation waiting for a reply on demo-patient's sharing page."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.utils import timezone

from portal.accounts.models import User
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.proxies.models import ProxyInvitation

INVITED_EMAIL = "alex.lindgren@example.org"


def seed_proxy_examples(patient_username: str = "demo-patient") -> None:
    """Give the demo patient one pending invitation (to their spouse), unless one is already waiting."""
    user = User.objects.filter(username=patient_username).first()
    patient = Patient.objects.filter(account=user).first() if user is not None else None
    if user is None or patient is None:
        return
    now = timezone.now()
    waiting = ProxyInvitation.objects.filter(
        patient=patient, email=INVITED_EMAIL, status=ProxyInvitation.Status.PENDING, expires_at__gt=now
    )
    if waiting.exists():
        return
    # Stored directly, like the demo's notifications: nobody is emailed.
    ProxyInvitation.objects.create(
        patient=patient,
        invited_by=user,
        name="Alex Lindgren",
        email=INVITED_EMAIL,
        relationship=ProxyGrant.Relationship.SPOUSE,
        scopes=[Scope.VIEW, Scope.SCHEDULE],
        nonce=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.PORTAL_PROXY_INVITATION_DAYS),
    )
