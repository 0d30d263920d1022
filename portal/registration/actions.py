"""Every write of registration: codes, new accounts, access requests. Each is audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import ActorRole, Kind, Outcome, record
from portal.organization.models import Campus
from portal.patients.models import Patient
from portal.registration import codes, emails
from portal.registration.matching import old_enough
from portal.registration.models import AccessRequest, ActivationCode


class RegistrationRefused(ValueError):
    """A registration write that must not happen; the message is for staff."""


class CodeNoLongerUsable(RegistrationRefused):
    """The code was used, revoked or expired (or the patient got an account) meanwhile."""


class UsernameTaken(RegistrationRefused):
    """Someone else took the username first."""


@dataclass(frozen=True)
class IssuedCode:
    """A new code and its text, which exists only here: the database keeps a hash."""

    code: ActivationCode
    text: str

    @property
    def display(self) -> str:
        return codes.display(self.text)


def _require_workforce(actor: Actor) -> User:
    if actor.user is None or not actor.user.is_workforce:
        raise RegistrationRefused(_("Only members of staff can do that."))
    return actor.user


def _create_code(actor: Actor, patient: Patient, at: dt.datetime, text: str | None = None) -> IssuedCode:
    if patient.account_id is not None:
        raise RegistrationRefused(_("This patient already has a portal account."))
    if not old_enough(patient, at):
        raise RegistrationRefused(
            _(
                "Patients under %(age)d cannot have their own account. A parent or guardian "
                "can ask for proxy access instead."
            )
            % {"age": settings.PORTAL_MIN_REGISTRATION_AGE}
        )
    # One usable code per patient: a new letter replaces any earlier one.
    revoked = (
        ActivationCode.objects.usable(at).filter(patient=patient).update(revoked_at=at, revoked_by=actor.user)
    )
    text = text or codes.new_code()
    code = ActivationCode.objects.create(
        patient=patient,
        code_hash=codes.code_hash(text),
        created_by=actor.user,
        created_at=at,
        expires_at=at + dt.timedelta(days=settings.PORTAL_ACTIVATION_CODE_DAYS),
    )
    record(
        actor,
        "activation_code.issue",
        kind=Kind.WRITE,
        patient=patient,
        obj=code,
        detail={"expires_at": code.expires_at.isoformat(), "replaced": revoked},
    )
    return IssuedCode(code, text)


@transaction.atomic
def do_issue_activation_code(actor: Actor, patient: Patient) -> IssuedCode:
    """Issue a code for a patient's letter, cancelling any earlier unused one."""
    _require_workforce(actor)
    locked = Patient.objects.select_for_update().select_related("primary_campus").get(pk=patient.pk)
    return _create_code(actor, locked, timezone.now())


@transaction.atomic
def do_revoke_activation_code(actor: Actor, code: ActivationCode) -> None:
    """Cancel a code that has not been used; cancelling twice changes nothing."""
    _require_workforce(actor)
    locked = ActivationCode.objects.select_for_update().get(pk=code.pk)
    if locked.used_at is not None:
        raise RegistrationRefused(_("That code has been used already; it cannot be cancelled."))
    if locked.revoked_at is not None:
        return
    locked.revoked_at = timezone.now()
    locked.revoked_by = actor.user
    locked.save(update_fields=["revoked_at", "revoked_by"])
    code.revoked_at, code.revoked_by = locked.revoked_at, locked.revoked_by
    record(actor, "activation_code.revoke", kind=Kind.WRITE, patient=locked.patient_id, obj=locked)


@transaction.atomic
def do_note_registration_attempt(
    actor: Actor, *, succeeded: bool, reason: str = "", patient: Patient | None = None
) -> None:
    """Audit one attempt at the first step of "Create account" (never what was typed)."""
    record(
        actor,
        "registration.attempt",
        kind=Kind.AUTH,
        patient=patient,
        outcome=Outcome.SUCCESS if succeeded else Outcome.FAILURE,
        detail={"reason": reason} if reason else {},
    )


@transaction.atomic
def do_register_patient(actor: Actor, code_id: int, *, username: str, password: str, email: str) -> User:
    """Create the patient's account from a usable code, link it and use up the code.

    The account cannot sign in until its email address is verified (allauth's mandatory
    verification); the caller sends the confirmation after this commits.
    """
    now = timezone.now()
    code = ActivationCode.objects.select_for_update().filter(pk=code_id).first()
    if code is None or not code.is_usable(now):
        raise CodeNoLongerUsable(_("This activation code can no longer be used."))
    patient = Patient.objects.select_for_update().get(pk=code.patient_id)
    if patient.account_id is not None:
        raise CodeNoLongerUsable(_("This activation code can no longer be used."))
    user = _new_user(patient, username, password, email)
    EmailAddress.objects.create(user=user, email=email.lower(), verified=False, primary=True)
    patient.account = user
    patient.save(update_fields=["account", "updated_at"])
    code.used_at = now
    code.save(update_fields=["used_at"])
    record(
        replace(actor, user=user),
        "registration.complete",
        kind=Kind.AUTH,
        role=ActorRole.PATIENT,
        patient=patient,
        obj=code,
        detail={"username": username},
    )
    return user


def _new_user(patient: Patient, username: str, password: str, email: str) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken(_("A user with that username already exists."))
    user = User(username=username, email=email, first_name=patient.given_name, last_name=patient.family_name)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # taken between the check and the insert
        raise UsernameTaken(_("A user with that username already exists.")) from exc
    return user


@transaction.atomic
def do_submit_access_request(
    actor: Actor,
    *,
    kind: str,
    given_name: str,
    family_name: str,
    birth_date: dt.date,
    email: str,
    phone: str,
    address_line: str,
    city: str,
    region: str = "",
    postal_code: str = "",
    country: str = "US",
    clinic_number: str = "",
    campus: Campus | None = None,
    message: str = "",
    language: str = "en",
) -> AccessRequest:
    """Put a request for access in the right staff queue."""
    if kind == AccessRequest.Kind.US and campus is None:
        raise RegistrationRefused(_("Choose the campus where you were seen."))
    access_request = AccessRequest.objects.create(
        kind=kind,
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        email=email,
        phone=phone,
        address_line=address_line,
        city=city,
        region=region,
        postal_code=postal_code,
        country=country,
        clinic_number=clinic_number,
        campus=campus,
        message=message,
        language=language,
    )
    record(
        actor,
        "access_request.submit",
        kind=Kind.WRITE,
        obj=access_request,
        detail={"kind": kind, "campus": campus.slug if campus else None},
    )
    return access_request


@transaction.atomic
def do_note_refused_access_request(actor: Actor, *, reason: str) -> None:
    """Audit a request for access turned away unread (a bot, or too many from one address)."""
    record(
        actor, "access_request.submit", kind=Kind.WRITE, outcome=Outcome.FAILURE, detail={"reason": reason}
    )


def _lock_open(access_request: AccessRequest) -> AccessRequest:
    locked = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
    if not locked.is_open:
        raise RegistrationRefused(_("This request has already been dealt with."))
    return locked


@transaction.atomic
def do_match_access_request(actor: Actor, access_request: AccessRequest, patient: Patient) -> AccessRequest:
    """Record which patient a request is from (staff have checked their identity)."""
    user = _require_workforce(actor)
    locked = _lock_open(access_request)
    locked.matched_patient = patient
    locked.status = AccessRequest.Status.MATCHED
    locked.handled_by, locked.handled_at = user, timezone.now()
    locked.save(update_fields=["matched_patient", "status", "handled_by", "handled_at"])
    record(actor, "access_request.match", kind=Kind.WRITE, patient=patient, obj=locked)
    return locked


@transaction.atomic
def do_send_access_request_code(actor: Actor, access_request: AccessRequest) -> AccessRequest:
    """Issue a code for the matched patient and email it to the requester.

    The email goes when the transaction commits; if sending fails the caller hears of
    it (the code stays issued, and staff can send a new one).
    """
    user = _require_workforce(actor)
    locked = _lock_open(access_request)
    if locked.matched_patient_id is None:
        raise RegistrationRefused(_("Match the request to a patient first."))
    patient = (
        Patient.objects.select_for_update().select_related("primary_campus").get(pk=locked.matched_patient_id)
    )
    now = timezone.now()
    issued = _create_code(actor, patient, now)
    locked.status = AccessRequest.Status.CODE_ISSUED
    locked.activation_code = issued.code
    locked.handled_by, locked.handled_at = user, now
    locked.save(update_fields=["status", "activation_code", "handled_by", "handled_at"])
    record(actor, "access_request.send_code", kind=Kind.WRITE, patient=patient, obj=locked)
    message = emails.code_email(locked, patient, issued.display, issued.code.expires_at)
    transaction.on_commit(message.send)
    return locked


@transaction.atomic
def do_decline_access_request(actor: Actor, access_request: AccessRequest, reason: str) -> AccessRequest:
    """Turn a request down and tell the requester why, by email."""
    user = _require_workforce(actor)
    reason = reason.strip()
    if not reason:
        raise RegistrationRefused(_("Give the reason the requester will read."))
    locked = _lock_open(access_request)
    locked.status = AccessRequest.Status.DECLINED
    locked.decline_reason = reason
    locked.handled_by, locked.handled_at = user, timezone.now()
    locked.save(update_fields=["status", "decline_reason", "handled_by", "handled_at"])
    record(actor, "access_request.decline", kind=Kind.WRITE, patient=locked.matched_patient_id, obj=locked)
    transaction.on_commit(emails.declined_email(locked).send)
    return locked
