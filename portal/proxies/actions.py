"""Every write of the proxy flows: requests, decisions, invitations, documents, endings."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.patients.access import PatientAccess, Role, record_write
from portal.patients.actions import do_grant_proxy, do_revoke_proxy
from portal.patients.models import ALL_SCOPES, Patient, ProxyGrant, Scope
from portal.proxies import emails
from portal.proxies.models import ProxyDocument, ProxyInvitation, ProxyRequest
from portal.proxies.uploads import CheckedUpload

MAX_PENDING_REQUESTS = 5
ALREADY_ASKED = gettext_noop("You have already asked for access to this record. The clinic will answer soon.")
MIN_DECLINE_REASON = 10
# Guardians hold grants the clinic made after checking a document: a proxy cannot remove them.
GUARDIANS = frozenset({ProxyGrant.Relationship.PARENT, ProxyGrant.Relationship.LEGAL_REPRESENTATIVE})


class ProxyRefused(ValueError):
    """A proxy change that cannot be made; the message says why, for the person asking."""


@dataclass(frozen=True)
class ChildDetails:
    """What a parent types to identify the child they ask to act for."""

    clinic_number: str
    given_name: str
    family_name: str
    birth_date: dt.date
    relationship: str


def majority_starts(patient: Patient) -> dt.datetime:
    """The moment (UTC midnight) the patient comes of age, when a childhood grant ends."""
    born = patient.birth_date
    years = settings.PORTAL_AGE_OF_MAJORITY
    try:
        day = born.replace(year=born.year + years)
    except ValueError:  # born on 29 February
        day = dt.date(born.year + years, 3, 1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _store_document(actor: Actor, upload: CheckedUpload, patient: Patient | None) -> ProxyDocument:
    document = ProxyDocument(
        patient=patient,
        content_type=upload.content_type,
        size=upload.size,
        original_name=upload.original_name,
        uploaded_by=actor.user,
    )
    document.file.save("upload", ContentFile(upload.content), save=False)
    document.save()
    return document


@transaction.atomic
def do_request_proxy_access(actor: Actor, details: ChildDetails, upload: CheckedUpload) -> ProxyRequest:
    """Ask the clinic to let the actor act for a child. Staff decide; the answer is emailed.

    The request is matched to a patient by clinic number and date of birth, silently:
    the requester learns nothing about whether the details exist until staff answer.
    """
    requester = actor.user
    if requester is None:
        raise ProxyRefused(_("Sign in to ask for access."))
    pending = ProxyRequest.objects.select_for_update().filter(
        requester=requester, status=ProxyRequest.Status.PENDING
    )
    if len(pending) >= MAX_PENDING_REQUESTS:
        raise ProxyRefused(
            _("You have several requests waiting already. Wait for the clinic to answer them.")
        )
    clinic_number = details.clinic_number.strip()
    if any(waiting.clinic_number == clinic_number for waiting in pending):
        raise ProxyRefused(_(ALREADY_ASKED))
    patient = Patient.objects.filter(clinic_number=clinic_number, birth_date=details.birth_date).first()
    try:
        with transaction.atomic():
            proxy_request = ProxyRequest.objects.create(
                requester=requester,
                clinic_number=clinic_number,
                given_name=details.given_name.strip(),
                family_name=details.family_name.strip(),
                birth_date=details.birth_date,
                relationship=details.relationship,
                patient=patient,
                document=_store_document(actor, upload, patient),
                language=translation.get_language() or settings.LANGUAGE_CODE,
            )
    except IntegrityError as duplicate:  # the same request sent twice at once
        raise ProxyRefused(_(ALREADY_ASKED)) from duplicate
    record(
        actor,
        "proxy.request",
        kind=Kind.WRITE,
        patient=patient,
        obj=proxy_request,
        detail={
            "clinic_number": clinic_number,
            "relationship": details.relationship,
            "matched": bool(patient),
        },
    )
    return proxy_request


def _lock_pending(proxy_request: ProxyRequest) -> ProxyRequest:
    locked = (
        ProxyRequest.objects.select_for_update(of=("self",))
        .select_related("requester", "patient", "document")
        .get(pk=proxy_request.pk)
    )
    if locked.status != ProxyRequest.Status.PENDING:
        raise ProxyRefused(_("Someone has already answered this request."))
    return locked


@transaction.atomic
def do_approve_proxy_request(actor: Actor, proxy_request: ProxyRequest) -> ProxyGrant:
    """Staff approve a parent's request: the parent gets every scope until the child comes of age.

    From 12 the access policy hides the clinic's confidential categories from them.
    """
    locked = _lock_pending(proxy_request)
    patient = locked.patient
    if patient is None:
        raise ProxyRefused(_("These details match no patient, so the request can only be declined."))
    if patient.age_on(timezone.localdate()) >= settings.PORTAL_AGE_OF_MAJORITY:
        raise ProxyRefused(_("This patient is an adult. They can invite a proxy themselves."))
    if patient.account_id == locked.requester_id:
        raise ProxyRefused(_("The requester is this patient."))
    if ProxyGrant.objects.active().filter(grantee=locked.requester, patient=patient).exists():
        raise ProxyRefused(_("The requester can already act for this patient."))
    legal = locked.relationship == ProxyGrant.Relationship.LEGAL_REPRESENTATIVE
    grant = do_grant_proxy(
        actor,
        patient,
        locked.requester,
        locked.relationship,
        ALL_SCOPES,
        expires_at=None if legal else majority_starts(patient),
        via="request",
    )
    ProxyDocument.objects.filter(pk=locked.document_id).update(grant=grant)
    locked.status, locked.grant = ProxyRequest.Status.APPROVED, grant
    locked.decided_by, locked.decided_at = actor.user, timezone.now()
    locked.save(update_fields=["status", "grant", "decided_by", "decided_at"])
    record(actor, "proxy.request_approve", kind=Kind.WRITE, patient=patient, obj=locked)
    transaction.on_commit(emails.request_approved_email(locked).send)
    return grant


@transaction.atomic
def do_decline_proxy_request(actor: Actor, proxy_request: ProxyRequest, reason: str) -> None:
    """Staff decline a request, with a reason the requester is told."""
    reason = reason.strip()
    if len(reason) < MIN_DECLINE_REASON:
        raise ProxyRefused(
            _("Give a reason of at least %(count)d characters.") % {"count": MIN_DECLINE_REASON}
        )
    locked = _lock_pending(proxy_request)
    locked.status, locked.decline_reason = ProxyRequest.Status.DECLINED, reason
    locked.decided_by, locked.decided_at = actor.user, timezone.now()
    locked.save(update_fields=["status", "decline_reason", "decided_by", "decided_at"])
    record(
        actor,
        "proxy.request_decline",
        kind=Kind.WRITE,
        patient=locked.patient,
        obj=locked,
        detail={"reason": reason},
    )
    transaction.on_commit(emails.request_declined_email(locked).send)


def _require_manager(access: PatientAccess) -> None:
    # The patient, or whoever the policy lets manage the account (a young child's parent,
    # say), chooses who shares it; other proxies only use it.
    if not access.manages_account:
        raise ProxyRefused(_("Only someone who manages this account can change who shares it."))


def revocation_refused(access: PatientAccess, grant: ProxyGrant) -> str | None:
    """Why `access` may not remove `grant` from the sharing page, or None if they may.

    A proxy who manages the account cannot remove a parent's or legal representative's
    access: the clinic checked a document for those, so the clinic changes them. Nor can
    they remove their own access here; "stop acting for" ends it and leaves the account.
    """
    if grant.patient_id != access.patient.pk or not access.manages_account:
        return _("Only someone who manages this account can change who shares it.")
    if grant.grantee_id == access.user.pk:
        return _("To end your own access, choose “Stop acting for %(name)s”.") % {
            "name": access.patient.given_name
        }
    if access.role is not Role.SELF and grant.relationship in GUARDIANS:
        return _("The clinic approved this access, so only the clinic can remove it.")
    return None


@transaction.atomic
def do_invite_proxy(
    actor: Actor,
    access: PatientAccess,
    *,
    name: str,
    email: str,
    relationship: str,
    scopes: Iterable[str],
    access_expires_at: dt.datetime | None,
) -> ProxyInvitation:
    """Whoever manages the account invites another adult by email; nothing is shared until they accept.

    Nobody can share more than they may do themself.
    """
    _require_manager(access)
    scope_list = sorted(set(scopes) & set(Scope.values))
    if not scope_list:
        raise ProxyRefused(_("Choose at least one thing they may do."))
    if not set(scope_list) <= access.scopes:
        raise ProxyRefused(_("You can only share what you may do yourself."))
    if relationship not in ProxyInvitation.relationships_for(access.patient):
        raise ProxyRefused(_("Choose how they are related to you."))
    now = timezone.now()
    if access_expires_at is not None and access_expires_at <= now:
        raise ProxyRefused(_("Choose an end date in the future."))
    invitation = ProxyInvitation.objects.create(
        patient=access.patient,
        invited_by=access.user,
        name=name.strip(),
        email=email.strip(),
        relationship=relationship,
        scopes=scope_list,
        access_expires_at=access_expires_at,
        nonce=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.PORTAL_PROXY_INVITATION_DAYS),
    )
    record_write(
        actor,
        access,
        "proxy.invite",
        obj=invitation,
        detail={"email": invitation.email, "relationship": relationship, "scopes": scope_list},
    )
    transaction.on_commit(emails.invitation_email(invitation).send)
    return invitation


@transaction.atomic
def do_cancel_proxy_invitation(actor: Actor, access: PatientAccess, invitation: ProxyInvitation) -> None:
    _require_manager(access)
    locked = ProxyInvitation.objects.select_for_update().get(pk=invitation.pk, patient=access.patient)
    if locked.status != ProxyInvitation.Status.PENDING:
        return
    locked.status, locked.answered_at = ProxyInvitation.Status.CANCELLED, timezone.now()
    locked.save(update_fields=["status", "answered_at"])
    record_write(
        actor,
        access,
        "proxy.invitation_cancel",
        obj=locked,
    )


def _lock_usable(invitation: ProxyInvitation) -> ProxyInvitation:
    locked = (
        ProxyInvitation.objects.select_for_update()
        .select_related("patient", "invited_by")
        .get(pk=invitation.pk)
    )
    if not locked.usable():
        raise ProxyRefused(_("This invitation has expired or has already been used."))
    return locked


@transaction.atomic
def do_accept_proxy_invitation(actor: Actor, invitation: ProxyInvitation) -> ProxyGrant:
    """The invitee, signed in with their own account, accepts: the grant starts now."""
    user = actor.user
    if user is None:
        raise ProxyRefused(_("Sign in to accept the invitation."))
    locked = _lock_usable(invitation)
    patient = locked.patient
    if patient.account_id == user.pk:
        raise ProxyRefused(_("This invitation is for someone else to act for you. Send the link to them."))
    if ProxyGrant.objects.active().filter(grantee=user, patient=patient).exists():
        raise ProxyRefused(_("You can already act for this person."))
    grant = do_grant_proxy(
        actor,
        patient,
        user,
        locked.relationship,
        locked.scope_set,
        expires_at=locked.access_expires_at,
        granted_by=locked.invited_by,
        via="invitation",
    )
    locked.status, locked.answered_at = ProxyInvitation.Status.ACCEPTED, timezone.now()
    locked.accepted_by, locked.grant = user, grant
    locked.save(update_fields=["status", "answered_at", "accepted_by", "grant"])
    record(
        actor,
        "proxy.invitation_accept",
        kind=Kind.WRITE,
        role=Role.PROXY.value,
        patient=patient,
        obj=locked,
        detail={"invited_email": locked.email, "accepted_by": user.username},
    )
    return grant


@transaction.atomic
def do_decline_proxy_invitation(actor: Actor, invitation: ProxyInvitation) -> None:
    locked = _lock_usable(invitation)
    locked.status, locked.answered_at = ProxyInvitation.Status.DECLINED, timezone.now()
    locked.save(update_fields=["status", "answered_at"])
    record(actor, "proxy.invitation_decline", kind=Kind.WRITE, patient=locked.patient, obj=locked)


@transaction.atomic
def do_revoke_proxy_grant(actor: Actor, access: PatientAccess, grant: ProxyGrant) -> bool:
    """Whoever manages the account removes a proxy; the proxy's very next request gets no access."""
    refusal = revocation_refused(access, grant)
    if refusal is not None:
        raise ProxyRefused(refusal)
    return do_revoke_proxy(actor, grant, role=access.role.value)


@transaction.atomic
def do_end_own_proxy_access(actor: Actor, access: PatientAccess) -> int:
    """A proxy stops acting for the patient, by their own choice: every grant they hold for them."""
    if access.role is not Role.PROXY:
        raise ProxyRefused(_("You are not a proxy for this account."))
    grants = ProxyGrant.objects.active().filter(grantee=access.user, patient=access.patient)
    return sum(do_revoke_proxy(actor, grant, role=access.role.value) for grant in grants)


@transaction.atomic
def do_grant_legal_representative(
    actor: Actor,
    access: PatientAccess,
    *,
    grantee: User,
    scopes: Iterable[str],
    expires_at: dt.datetime | None,
    upload: CheckedUpload,
) -> ProxyGrant:
    """Staff record a legal representative (court order, power of attorney) with its document."""
    if not access.is_staff_access:
        raise ProxyRefused(_("Only members of staff can record a legal representative."))
    patient = access.patient
    if patient.account_id == grantee.pk:
        raise ProxyRefused(_("That account is the patient's own."))
    if getattr(grantee, "is_workforce", False) or not grantee.is_active:
        raise ProxyRefused(_("Choose the representative's own, active portal account."))
    if ProxyGrant.objects.active().filter(grantee=grantee, patient=patient).exists():
        raise ProxyRefused(_("That person can already act for this patient. Remove their access first."))
    scope_list = set(scopes) & set(Scope.values)
    if not scope_list:
        raise ProxyRefused(_("Choose at least one thing they may do."))
    if expires_at is not None and expires_at <= timezone.now():
        raise ProxyRefused(_("Choose an end date in the future."))
    grant = do_grant_proxy(
        actor,
        patient,
        grantee,
        ProxyGrant.Relationship.LEGAL_REPRESENTATIVE,
        scope_list,
        expires_at=expires_at,
        via="legal_representative",
    )
    document = _store_document(actor, upload, patient)
    document.grant = grant
    document.save(update_fields=["grant"])
    return grant
