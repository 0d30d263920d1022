"""Every write to patients, proxy grants, break-glass access and the patient's account details."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection, Iterable
from typing import Any

from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.actions import do_end_sessions
from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import ActorRole, Kind, record
from portal.notifications.models import Kind as NotificationKind
from portal.patients.access import PatientAccess, Role, record_write
from portal.patients.models import (
    BreakGlassAccess,
    CommunicationPreference,
    EmailChange,
    Patient,
    ProxyGrant,
    Scope,
)


class BreakGlassRefused(ValueError):
    """Break-glass was asked for without what it needs."""


MIN_BREAK_GLASS_REASON = 20


@transaction.atomic
def do_break_glass(actor: Actor, patient: Patient, reason: str) -> BreakGlassAccess:
    """Give a member of staff time-limited emergency access to a patient, flagged for review."""
    reason = reason.strip()
    if actor.user is None or not actor.user.is_workforce:
        raise BreakGlassRefused(_("Only members of staff can use emergency access."))
    if len(reason) < MIN_BREAK_GLASS_REASON:
        raise BreakGlassRefused(
            _("Give a reason of at least %(count)d characters.") % {"count": MIN_BREAK_GLASS_REASON}
        )
    now = timezone.now()
    access = BreakGlassAccess.objects.create(
        user=actor.user,
        patient=patient,
        reason=reason,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=settings.BREAK_GLASS_MINUTES),
    )
    record(
        actor,
        "access.break_glass",
        kind=Kind.WRITE,
        role=ActorRole.BREAK_GLASS,
        patient=patient,
        obj=access,
        flagged=True,
        detail={"reason": reason, "expires_at": access.expires_at.isoformat()},
    )
    return access


@transaction.atomic
def do_grant_proxy(
    actor: Actor,
    patient: Patient,
    grantee: User,
    relationship: str,
    scopes: Iterable[str],
    expires_at: dt.datetime | None = None,
    *,
    granted_by: User | None = None,
    via: str = "",
) -> ProxyGrant:
    """Let `grantee` act for `patient` with `scopes` until `expires_at`.

    `granted_by` is who decided (the actor, unless the actor carries out someone else's
    decision, as an invitee accepting a patient's invitation does); `via` names the flow.
    """
    scope_list = sorted(set(scopes) & set(Scope.values))
    grant = ProxyGrant.objects.create(
        grantee=grantee,
        patient=patient,
        relationship=relationship,
        scopes=scope_list,
        expires_at=expires_at,
        granted_by=granted_by or actor.user,
    )
    detail: dict[str, object] = {
        "scopes": scope_list,
        "grantee": grantee.username,
        "relationship": relationship,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    if via:
        detail["via"] = via
    record(actor, "proxy.grant", kind=Kind.WRITE, patient=patient, obj=grant, detail=detail)
    return grant


@transaction.atomic
def do_revoke_proxy(actor: Actor, grant: ProxyGrant, *, role: str | None = None) -> bool:
    """End a grant now; its holder's next request already gets no access. False if it had ended."""
    locked = ProxyGrant.objects.select_for_update().select_related("grantee").get(pk=grant.pk)
    if locked.revoked_at is not None:
        return False
    locked.revoked_at = grant.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    own = actor.user is not None and actor.user.pk == locked.grantee_id
    record(
        actor,
        "proxy.end" if own else "proxy.revoke",
        kind=Kind.WRITE,
        role=role,
        patient=locked.patient_id,
        obj=locked,
        detail={"grantee": locked.grantee.username, "relationship": locked.relationship},
    )
    return True


class ProfileRefused(ValueError):
    """A change to the account that this user may not make; the message says why."""


CONTACT_FIELDS = ["mobile_phone", "home_phone", "address_line", "city", "region", "postal_code", "country"]
EMAIL_CHANGE_DAYS = 3


def _require_manager(access: PatientAccess) -> None:
    if not access.manages_account:
        raise ProfileRefused(
            _("Only the patient (or the parent of a child under 12) can change these details.")
        )


def _audit_change(
    actor: Actor, access: PatientAccess, action: str, changes: dict[str, Any], **extra: Any
) -> None:
    # Before and after values go in the detail so staff can see exactly what changed.
    record(
        actor,
        action,
        kind=Kind.WRITE,
        role=access.role.value,
        patient=access.patient,
        obj=access.patient,
        detail={"changes": changes, **extra},
    )


@transaction.atomic
def do_update_contact_details(actor: Actor, access: PatientAccess, values: dict[str, str]) -> dict[str, Any]:
    """Change phone numbers and address; returns what changed (before and after), audited."""
    _require_manager(access)
    patient = Patient.objects.select_for_update().get(pk=access.patient.pk)
    changes = {
        field: {"before": getattr(patient, field), "after": values[field]}
        for field in CONTACT_FIELDS
        if field in values and getattr(patient, field) != values[field]
    }
    if not changes:
        return changes
    for field, change in changes.items():
        setattr(patient, field, change["after"])
        setattr(access.patient, field, change["after"])
    patient.save(update_fields=[*changes, "updated_at"])
    _audit_change(actor, access, "profile.update", changes)
    return changes


@transaction.atomic
def do_request_email_change(actor: Actor, access: PatientAccess, new_email: str) -> EmailChange:
    """Start an email change: the new address gets a link, and changes nothing until it is opened."""
    _require_manager(access)
    new_email = new_email.strip()
    if new_email.casefold() == access.patient.email.casefold():
        raise ProfileRefused(_("That is already the email address we have."))
    now = timezone.now()
    EmailChange.objects.filter(patient=access.patient, status=EmailChange.Status.PENDING).update(
        status=EmailChange.Status.CANCELLED
    )
    change = EmailChange.objects.create(
        patient=access.patient,
        requested_by=access.user,
        new_email=new_email,
        nonce=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + dt.timedelta(days=EMAIL_CHANGE_DAYS),
    )
    record_write(
        actor,
        access,
        "profile.email_change_request",
        obj=change,
        detail={"new_email": new_email},
    )
    transaction.on_commit(email_change_message(change).send)
    return change


def email_change_message(change: EmailChange) -> EmailMessage:
    url = settings.SITE_ROOT.rstrip("/") + reverse("profile:email_confirm", args=[email_change_token(change)])
    context = {"change": change, "confirm_url": url, "site_name": settings.SITE_NAME}
    subject = render_to_string("patients/email/email_change_subject.txt", context)
    body = render_to_string("patients/email/email_change_body.txt", context)
    return EmailMessage(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [change.new_email])


EMAIL_CHANGE_SALT = "portal.patients.email_change"


def email_change_token(change: EmailChange) -> str:
    return signing.dumps({"c": change.pk, "n": change.nonce}, salt=EMAIL_CHANGE_SALT, compress=True)


def email_change_from_token(token: str) -> EmailChange | None:
    try:
        payload: Any = signing.loads(
            token, salt=EMAIL_CHANGE_SALT, max_age=dt.timedelta(days=EMAIL_CHANGE_DAYS)
        )
        change_id, nonce = int(payload["c"]), str(payload["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return EmailChange.objects.select_related("patient").filter(pk=change_id, nonce=nonce).first()


@transaction.atomic
def do_confirm_email_change(actor: Actor, access: PatientAccess, change: EmailChange) -> None:
    """The person who asked opened the link: the new address takes effect (and signs them in, if theirs)."""
    _require_manager(access)
    locked = EmailChange.objects.select_for_update().get(pk=change.pk, patient=access.patient)
    if not locked.usable() or locked.requested_by_id != access.user.pk:
        raise ProfileRefused(_("This link has expired or has already been used."))
    patient = Patient.objects.select_for_update().get(pk=access.patient.pk)
    before = patient.email
    patient.email = access.patient.email = locked.new_email
    patient.save(update_fields=["email", "updated_at"])
    locked.status, locked.confirmed_at = EmailChange.Status.CONFIRMED, timezone.now()
    locked.save(update_fields=["status", "confirmed_at"])
    if access.role is Role.SELF:
        _replace_sign_in_email(access.user, locked.new_email)
    _audit_change(
        actor, access, "profile.email_change", {"email": {"before": before, "after": locked.new_email}}
    )


def _replace_sign_in_email(user: User, email: str) -> None:
    # The patient's own account uses the same address: password resets go there from
    # now on, and not to the old one.
    user.email = email
    user.save(update_fields=["email"])
    EmailAddress.objects.filter(user=user).exclude(email__iexact=email).delete()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )


@transaction.atomic
def do_update_preferred_language(actor: Actor, access: PatientAccess, language: str) -> bool:
    _require_manager(access)
    if language not in dict(settings.LANGUAGES):
        raise ProfileRefused(_("Choose a language from the list."))
    before = access.patient.preferred_language
    if before == language:
        return False
    Patient.objects.filter(pk=access.patient.pk).update(
        preferred_language=language, updated_at=timezone.now()
    )
    access.patient.preferred_language = language
    _audit_change(
        actor, access, "profile.language", {"preferred_language": {"before": before, "after": language}}
    )
    return True


def communication_preference(patient: Patient) -> CommunicationPreference:
    """The patient's preferences, or the defaults (unsaved) if they never chose."""
    found = CommunicationPreference.objects.filter(patient=patient).first()
    if found is None:
        return CommunicationPreference(patient=patient)
    found.patient = patient  # already loaded: reading consent needs its mobile number
    return found


@transaction.atomic
def do_update_communication_preferences(
    actor: Actor,
    access: PatientAccess,
    *,
    email_updates: bool,
    sms_updates: bool,
    sms_consent: bool,
    email_kinds: Collection[str] | None = None,
    sms_kinds: Collection[str] | None = None,
    quiet_hours: tuple[dt.time | None, dt.time | None] | None = None,
) -> dict[str, Any]:
    """Email and SMS choices, per kind of news, and quiet hours.

    Text messages need consent, recorded with when, who and which number. Kinds and
    quiet hours left as None stay as they are; `quiet_hours` of (None, None) removes them.
    """
    _require_manager(access)
    patient = access.patient
    preference, _created = CommunicationPreference.objects.select_for_update().get_or_create(patient=patient)
    preference.patient = patient
    before = _preference_values(preference)
    preference.email_updates = email_updates
    if email_kinds is not None:
        preference.email_kinds = _known_kinds(email_kinds)
    if sms_kinds is not None:
        preference.sms_kinds = _known_kinds(sms_kinds)
    if quiet_hours is not None:
        preference.quiet_start, preference.quiet_end = _checked_quiet_hours(*quiet_hours)
    if sms_updates:
        if not patient.mobile_phone:
            raise ProfileRefused(_("Add a mobile phone number to your contact details first."))
        if not preference.sms_allowed:
            if not sms_consent:
                raise ProfileRefused(_("To get text messages, tick to agree to them."))
            preference.sms_consented_at, preference.sms_consented_by = timezone.now(), access.user
            preference.sms_consent_phone = patient.mobile_phone
        preference.sms_updates = True
    else:
        # Turning texts off withdraws consent; turning them on again asks again.
        preference.sms_updates = False
        preference.sms_consented_at, preference.sms_consented_by, preference.sms_consent_phone = (
            None,
            None,
            "",
        )
    after = _preference_values(preference)
    changes = {
        key: {"before": before[key], "after": after[key]} for key in after if before[key] != after[key]
    }
    if changes:
        preference.save()
        _audit_change(actor, access, "profile.communication", changes)
    return changes


def _known_kinds(kinds: Collection[str]) -> list[str]:
    """The kinds in their usual order; anything that is not a kind of news is refused."""
    if not set(kinds) <= set(NotificationKind.values):
        raise ProfileRefused(_("Choose kinds of news from the list."))
    return [kind for kind in NotificationKind.values if kind in kinds]


def _checked_quiet_hours(start: dt.time | None, end: dt.time | None) -> tuple[dt.time | None, dt.time | None]:
    if start is None and end is None:
        return None, None
    if start is None or end is None:
        raise ProfileRefused(_("Give both times, or leave both empty for no quiet hours."))
    # Minutes are enough: the page asks for hours and minutes.
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    if start == end:
        raise ProfileRefused(_("Quiet hours must end at a different time than they start."))
    return start, end


def _preference_values(preference: CommunicationPreference) -> dict[str, Any]:
    consented = preference.sms_consented_at
    return {
        "email_updates": preference.email_updates,
        "sms_updates": preference.sms_updates,
        "sms_consented_at": consented.isoformat() if consented else None,
        "sms_consent_phone": preference.sms_consent_phone,
        "email_kinds": list(preference.email_kinds),
        "sms_kinds": list(preference.sms_kinds),
        "quiet_start": preference.quiet_start.strftime("%H:%M") if preference.quiet_start else None,
        "quiet_end": preference.quiet_end.strftime("%H:%M") if preference.quiet_end else None,
    }


@transaction.atomic
def do_deactivate_account(actor: Actor, user: User) -> int:
    """The patient closes their sign-in: refused from now on, every session ended, records kept."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        return 0
    locked.is_active = user.is_active = False
    locked.save(update_fields=["is_active"])
    patient = Patient.objects.filter(account=locked).first()
    record(actor, "account.deactivate", kind=Kind.WRITE, role=Role.SELF.value, patient=patient, obj=locked)
    return do_end_sessions(actor, locked, UserSession.objects.filter(user=locked), reason="deactivated")


@transaction.atomic
def do_reactivate_account(actor: Actor, access: PatientAccess) -> bool:
    """Staff reopen a patient's deactivated sign-in."""
    if not access.is_staff_access:
        raise ProfileRefused(_("Only members of staff can reopen an account."))
    if access.patient.account_id is None:
        return False
    account = User.objects.select_for_update().get(pk=access.patient.account_id)
    if account.is_active:
        return False
    account.is_active = True
    account.save(update_fields=["is_active"])
    record_write(
        actor,
        access,
        "account.reactivate",
        obj=account,
    )
    return True
