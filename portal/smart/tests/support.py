"""SMART test helpers: a registered app and tokens bound to a patient, made without the OAuth dance."""

from __future__ import annotations

import datetime as dt
import secrets

from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken, set_token_value

from portal.accounts.models import User
from portal.patients.models import Patient
from portal.smart.models import PatientAuthorization, TokenBinding
from portal.smart.tokens import checksum


def make_app(
    name: str = "Health Tracker", *, public: bool = True, redirect: str = "http://127.0.0.1:9999/cb"
) -> Application:
    return Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,
    )


def issue_token(
    user: User, patient: Patient, scope: str = "launch/patient patient/*.rs", app: Application | None = None
) -> str:
    """A live access token for `app` (made if None), bound to a new authorization for `patient`."""
    app = app or make_app()
    authorization = PatientAuthorization.objects.create(
        application=app, user=user, patient=patient, scopes=scope
    )
    value = secrets.token_urlsafe(32)
    token = AccessToken(
        user=user, application=app, expires=timezone.now() + dt.timedelta(hours=1), scope=scope
    )
    # As the toolkit stores it: the checksum only, under hashed storage (settings).
    set_token_value(token, value)
    token.save()
    TokenBinding.objects.create(access_token=token, authorization=authorization)
    return value


def stored_access_token(value: str) -> AccessToken:
    """The access token row for a token value an app holds (found by its checksum)."""
    return AccessToken.objects.get(token_checksum=checksum(value))


def add_refresh_token(access_token: AccessToken) -> str:
    """A live refresh token for `access_token`, stored as the toolkit stores one."""
    value = secrets.token_urlsafe(32)
    refresh = RefreshToken(
        user=access_token.user, application=access_token.application, access_token=access_token
    )
    set_token_value(refresh, value)
    refresh.save()
    return value
