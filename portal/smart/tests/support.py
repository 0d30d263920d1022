"""SMART test helpers: a registered app and tokens bound to a patient, made without the OAuth dance."""

from __future__ import annotations

import datetime as dt
import secrets

from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from portal.accounts.models import User
from portal.patients.models import Patient
from portal.smart.models import PatientAuthorization, TokenBinding


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
    token = AccessToken.objects.create(
        user=user,
        application=app,
        token=secrets.token_urlsafe(32),
        expires=timezone.now() + dt.timedelta(hours=1),
        scope=scope,
    )
    TokenBinding.objects.create(access_token=token, authorization=authorization)
    return str(token.token)
