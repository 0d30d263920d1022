"""Share links: a patient gives someone a link to chosen parts of their record.

The token is shown once and only its SHA-256 digest is stored, so the database alone
cannot open a link. What the link shows is decided when it is opened, as its creator
would see it now (`decide(created_by, patient)`): a result released since shows, a
creator who lost their access takes the link down with them. Wrong passcodes are
counted per link in the cache; too many lock the link for an hour.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.audit.actor import Actor
from portal.audit.log import ActorRole, Kind, Outcome, record
from portal.patients.access import PatientAccess, decide, record_write
from portal.patients.models import Scope
from portal.records.export import Selection
from portal.records.models import ShareLink, ShareLinkOpen

EXPIRY_DAYS = (1, 7, 30, 90)
MIN_PASSCODE_LENGTH = 6
MAX_TOKEN_LENGTH = 100  # token_urlsafe(32) is 43 characters; anything much longer is not ours
WRONG_PASSCODES_ALLOWED = 10
LOCK_SECONDS = 60 * 60


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def selection_of(link: ShareLink) -> Selection:
    sections = [slug for slug in link.sections if isinstance(slug, str)]
    return Selection.of(sections, link.date_from, link.date_to)


def link_from_token(token: str) -> ShareLink | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (
        ShareLink.objects.filter(token_digest=token_digest(token))
        .select_related("patient__primary_campus", "created_by")
        .first()
    )


def share_access(link: ShareLink, at: dt.datetime | None = None) -> PatientAccess | None:
    """What the link shows: its creator's view of the record today, or None if it no longer works.

    Staff accesses never count: the viewer must follow the patient-side release rules.
    """
    if not link.usable(at) or link.created_by is None:
        return None
    access = decide(link.created_by, link.patient, at)
    if access is None or access.is_staff_access or not access.allows(Scope.VIEW):
        return None
    return access


def status_label(link: ShareLink, at: dt.datetime | None = None) -> str:
    at = at or timezone.now()
    if link.revoked_at is not None:
        return str(_("Revoked"))
    if link.expires_at <= at:
        return str(_("Expired"))
    return str(_("Active"))


# Wrong passcodes ----------------------------------------------------------------------------


def _attempts_key(link: ShareLink) -> str:
    return f"records:share:wrong-passcodes:{link.pk}"


def _lock_key(link: ShareLink) -> str:
    return f"records:share:locked:{link.pk}"


def passcode_locked(link: ShareLink) -> bool:
    return cache.get(_lock_key(link)) is not None


def passcode_matches(link: ShareLink, passcode: str) -> bool:
    """Check a typed passcode, counting a wrong one; the tenth within an hour locks the link for an hour."""
    if check_password(passcode, link.passcode_hash):
        return True
    key = _attempts_key(link)
    cache.add(key, 0, timeout=LOCK_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:
        # The window ended between add and incr: this is the first wrong one of a new window.
        cache.set(key, 1, timeout=LOCK_SECONDS)
        count = 1
    if count >= WRONG_PASSCODES_ALLOWED:
        cache.set(_lock_key(link), True, timeout=LOCK_SECONDS)
        cache.delete(key)
    return False


# Writes -------------------------------------------------------------------------------------


@transaction.atomic
def do_create_share_link(
    actor: Actor,
    access: PatientAccess,
    *,
    recipient: str,
    selection: Selection,
    expires_in_days: int,
    passcode: str = "",
) -> tuple[ShareLink, str]:
    """Make a link and return it with its token, which is never stored and cannot be shown again."""
    token = secrets.token_urlsafe(32)
    link = ShareLink.objects.create(
        patient=access.patient,
        created_by=access.user,
        token_digest=token_digest(token),
        recipient=recipient,
        sections=list(selection.sections),
        date_from=selection.date_from,
        date_to=selection.date_to,
        passcode_hash=make_password(passcode) if passcode else "",
        expires_at=timezone.now() + dt.timedelta(days=expires_in_days),
    )
    detail = {
        "recipient": recipient,
        "expires_at": link.expires_at.isoformat(),
        "passcode": bool(passcode),
        **selection.audit_detail(),
    }
    record_write(actor, access, "records.share_create", obj=link, detail=detail)
    return link, token


@transaction.atomic
def do_revoke_share_link(actor: Actor, access: PatientAccess, link: ShareLink) -> bool:
    """Turn a link off at once; False (and nothing written) if it was already off."""
    locked = ShareLink.objects.select_for_update().filter(pk=link.pk, patient=access.patient).first()
    if locked is None or locked.revoked_at is not None:
        return False
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    link.revoked_at = locked.revoked_at
    record_write(actor, access, "records.share_revoke", obj=link, detail={"recipient": link.recipient})
    return True


OPEN_ACTIONS: dict[str, tuple[str, str, str]] = {
    ShareLinkOpen.Outcome.OPENED: ("records.share_open", Kind.READ, Outcome.SUCCESS),
    ShareLinkOpen.Outcome.WRONG_PASSCODE: ("records.share_wrong_passcode", Kind.DENIED, Outcome.DENIED),
    ShareLinkOpen.Outcome.REFUSED: ("records.share_refused", Kind.DENIED, Outcome.DENIED),
}


@transaction.atomic
def do_record_share_open(
    actor: Actor, link: ShareLink, outcome: str, *, download: bool = False
) -> ShareLinkOpen:
    """Log one visit to a link, in its own log (for the patient's sharing page) and in the audit trail.

    Whoever holds the link is recorded as anonymous, even if they happen to be signed in:
    they are acting as the link's recipient, not as themselves.
    """
    visit = ShareLinkOpen.objects.create(
        link=link,
        outcome=outcome,
        client_address=actor.client_ip,
        user_agent=actor.user_agent[:300],
    )
    action, kind, result = OPEN_ACTIONS[outcome]
    if download and outcome == ShareLinkOpen.Outcome.OPENED:
        action = "records.share_pdf"
    record(
        Actor(user=None, client_ip=actor.client_ip, user_agent=actor.user_agent),
        action,
        kind=kind,
        role=ActorRole.ANONYMOUS,
        patient=link.patient_id,
        obj=link,
        outcome=result,
        detail={"recipient": link.recipient, **selection_of(link).audit_detail()},
    )
    return visit
