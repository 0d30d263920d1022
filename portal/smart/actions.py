"""Every write about apps: a patient disconnecting one, a developer registering one, staff deciding.

Revoking an authorization ends every code and token issued under it in the same
transaction, so the next API call with any of them is refused.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.organization.models import Practitioner
from portal.patients.access import PatientAccess, record_write
from portal.smart.models import AppRegistration, GrantBinding, PatientAuthorization, TokenBinding


class AppRefused(Exception):
    """A decision the actor may not take, or may no longer take; the message says why."""


def may_review_apps(user: User) -> bool:
    """Only the clinic's administrators approve apps: superusers, or staff with the Administrator role."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    # The user's practitioner row is already loaded on staff pages (is_workforce): no query.
    practitioner: Practitioner | None = getattr(user, "practitioner", None)
    return (
        practitioner is not None
        and practitioner.active
        and practitioner.role == Practitioner.Role.ADMINISTRATOR
    )


# Patients -----------------------------------------------------------------------------


@transaction.atomic
def do_revoke_authorization(actor: Actor, access: PatientAccess, authorization: PatientAuthorization) -> bool:
    """Disconnect an app from the patient's record at once; False if it was already disconnected."""
    locked = PatientAuthorization.objects.select_for_update().get(pk=authorization.pk)
    if locked.revoked_at is not None or locked.patient_id != access.patient.pk:
        return False
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    ended = _end_tokens([locked.pk])
    authorization.revoked_at = locked.revoked_at
    record_write(
        actor,
        access,
        "smart.revoke",
        obj=locked,
        detail={"application": locked.application_id, "tokens": ended},
    )
    return True


def _end_tokens(authorization_ids: list[int]) -> int:
    """Revoke every refresh token and delete every access token and code bound to the authorizations.

    A refresh token's whole rotation family goes with it, so a token rotated a moment
    ago cannot be refreshed into a new one.
    """
    token_ids = list(
        TokenBinding.objects.filter(authorization_id__in=authorization_ids).values_list(
            "access_token_id", flat=True
        )
    )
    families = set(
        RefreshToken.objects.filter(access_token_id__in=token_ids)
        .exclude(token_family=None)
        .values_list("token_family", flat=True)
    )
    for family in families:
        RefreshToken.revoke_family(family)
    now = timezone.now()
    RefreshToken.objects.filter(access_token_id__in=token_ids, revoked__isnull=True).update(
        revoked=now, updated=now
    )
    AccessToken.objects.filter(pk__in=token_ids).delete()
    Grant.objects.filter(
        pk__in=GrantBinding.objects.filter(authorization_id__in=authorization_ids).values("grant_id")
    ).delete()
    return len(token_ids)


# Developers ---------------------------------------------------------------------------


@transaction.atomic
def do_register_app(
    actor: Actor,
    *,
    name: str,
    description: str,
    homepage: str,
    redirect_uris: list[str],
    client_type: str,
) -> AppRegistration:
    """Ask the clinic to approve an app (the form has validated every field)."""
    assert actor.user is not None  # noqa: S101 - views are behind login_required
    registration = AppRegistration.objects.create(
        developer=actor.user,
        name=name,
        description=description,
        homepage=homepage,
        redirect_uris="\n".join(redirect_uris),
        client_type=client_type,
    )
    record(
        actor,
        "smart.app_register",
        kind=Kind.WRITE,
        obj=registration,
        detail={"name": name[:100], "client_type": client_type, "redirect_uris": redirect_uris},
    )
    return registration


@transaction.atomic
def do_rotate_secret(actor: Actor, registration: AppRegistration) -> str:
    """A new client secret for the developer's approved confidential app; only its hash is kept."""
    # `of=("self",)`: the application is a nullable join, which PostgreSQL will not lock.
    locked = (
        AppRegistration.objects.select_for_update(of=("self",))
        .select_related("application")
        .get(pk=registration.pk)
    )
    application = locked.application
    if (
        actor.user is None
        or locked.developer_id != actor.user.pk
        or locked.status != AppRegistration.Status.APPROVED
        or application is None
        or application.client_type != Application.CLIENT_CONFIDENTIAL
    ):
        raise AppRefused(_("Only an approved confidential app has a client secret."))
    secret = generate_client_secret()
    application.client_secret = secret
    application.hash_client_secret = True
    application.save(update_fields=["client_secret", "hash_client_secret", "updated"])
    record(actor, "smart.app_secret", kind=Kind.WRITE, obj=locked, detail={"application": application.pk})
    return str(secret)


# Staff --------------------------------------------------------------------------------


def _locked_for_review(actor: Actor, registration: AppRegistration, *statuses: str) -> AppRegistration:
    if actor.user is None or not may_review_apps(actor.user):
        raise AppRefused(_("Only the clinic's administrators can approve apps."))
    locked = AppRegistration.objects.select_for_update().get(pk=registration.pk)
    if locked.status not in statuses:
        raise AppRefused(_("This app was already decided. Reload the page to see its status."))
    return locked


@transaction.atomic
def do_approve_app(actor: Actor, registration: AppRegistration) -> Application:
    """Approve a pending app: create its OAuth client with exactly the registered redirect URIs."""
    locked = _locked_for_review(actor, registration, AppRegistration.Status.PENDING)
    confidential = locked.client_type == AppRegistration.ClientType.CONFIDENTIAL
    application = Application.objects.create(
        name=locked.name[:255],
        user=locked.developer,
        client_type=Application.CLIENT_CONFIDENTIAL if confidential else Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(locked.redirect_uris.split()),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,
    )
    _decide(locked, actor, AppRegistration.Status.APPROVED, "")
    locked.application = application
    locked.save(update_fields=["application"])
    record(
        actor,
        "smart.app_approve",
        kind=Kind.WRITE,
        obj=locked,
        detail={"application": application.pk, "client_id": application.client_id},
    )
    return application


@transaction.atomic
def do_reject_app(actor: Actor, registration: AppRegistration, note: str) -> AppRegistration:
    """Turn down a pending app, telling the developer why."""
    locked = _locked_for_review(actor, registration, AppRegistration.Status.PENDING)
    _decide(locked, actor, AppRegistration.Status.REJECTED, note.strip())
    record(actor, "smart.app_reject", kind=Kind.WRITE, obj=locked, detail={"note": locked.review_note[:1000]})
    return locked


@transaction.atomic
def do_suspend_app(actor: Actor, registration: AppRegistration, note: str) -> int:
    """Stop an approved app: every patient's authorization and token ends, and no new one is given.

    The OAuth client stays (its authorizations stay, revoked, for the patients' history)
    but loses its redirect URIs, so the authorization endpoint refuses it whatever else
    checks the registration's status. Returns how many patients' authorizations ended.
    """
    locked = _locked_for_review(actor, registration, AppRegistration.Status.APPROVED)
    if locked.application_id is None:
        raise AppRefused(_("This app has no OAuth client to suspend."))
    authorizations = PatientAuthorization.objects.filter(application_id=locked.application_id)
    live = list(authorizations.filter(revoked_at__isnull=True).values_list("pk", "patient_id"))
    _end_tokens([pk for pk, _patient in live])
    now = timezone.now()
    authorizations.filter(revoked_at__isnull=True).update(revoked_at=now)
    _decide(locked, actor, AppRegistration.Status.REJECTED, note.strip())
    for pk, patient_id in live:
        # Each patient's log says the clinic disconnected the app.
        record(
            actor,
            "smart.revoke",
            kind=Kind.WRITE,
            patient=patient_id,
            detail={"application": locked.application_id, "authorization": pk, "suspended": True},
        )
    record(
        actor,
        "smart.app_suspend",
        kind=Kind.WRITE,
        obj=locked,
        detail={"application": locked.application_id, "authorizations": len(live), "note": note[:1000]},
    )
    Grant.objects.filter(application_id=locked.application_id).delete()
    Application.objects.filter(pk=locked.application_id).update(redirect_uris="", updated=now)
    return len(live)


def _decide(registration: AppRegistration, actor: Actor, status: str, note: str) -> None:
    registration.status = status
    registration.reviewed_by = actor.user
    registration.reviewed_at = timezone.now()
    registration.review_note = note
    registration.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
