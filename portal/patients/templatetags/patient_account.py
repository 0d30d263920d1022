"""Blocks for the staff patient page: the portal sign-in's state and recent changes to the account."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext

from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.patients.models import CommunicationPreference, Patient

register = template.Library()

CHANGE_ACTIONS = [
    "profile.update",
    "profile.email_change",
    "profile.language",
    "profile.communication",
    "account.deactivate",
    "account.reactivate",
    "proxy.grant",
    "proxy.revoke",
    "proxy.end",
]
RECENT_CHANGES = 10


@register.inclusion_tag("patients/includes/recent_changes.html")
def recent_changes(patient: Patient) -> dict[str, Any]:
    """The latest changes to the patient's details and sharing, with before and after values."""
    events = AuditEvent.objects.filter(patient=patient.pk, action__in=CHANGE_ACTIONS).order_by("-sequence")
    rows = [(event, describe(event.action), _changes(event)) for event in events[:RECENT_CHANGES]]
    return {"rows": rows}


def _changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    changes = event.detail.get("changes") if isinstance(event.detail, dict) else None
    if not isinstance(changes, dict):
        return []
    return [
        (_label(field), _shown(change.get("before")), _shown(change.get("after")))
        for field, change in changes.items()
        if isinstance(change, dict)
    ]


def _label(field: str) -> str:
    for model in (Patient, CommunicationPreference):
        try:
            found = model._meta.get_field(field)
        except FieldDoesNotExist:
            continue
        return str(getattr(found, "verbose_name", field))
    return field


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return "" if value is None else str(value)


@register.inclusion_tag("patients/includes/account_status.html", takes_context=True)
def account_status(context: template.Context, patient: Patient) -> dict[str, Any]:
    """Whether the patient can sign in, with the button that reopens a closed account."""
    return {"patient": patient, "account": patient.account, "csrf_token": context.get("csrf_token")}
