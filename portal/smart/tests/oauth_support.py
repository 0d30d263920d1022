"""Driving the SMART authorization server with Django's test client, as an app would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from django.test import Client
from django.test.client import RequestFactory
from oauth2_provider.models import Application

from portal.fhir.api.auth import ApiGrant, authenticate

REDIRECT = "http://127.0.0.1:9999/cb"


def challenge_for(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Launch:
    """One standalone launch: the app's request parameters and its PKCE verifier."""

    app: Application
    scope: str = "launch/patient openid fhirUser offline_access patient/*.rs"
    redirect_uri: str = REDIRECT
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    method: str | None = "S256"
    extra: dict[str, str] = field(default_factory=dict)

    def authorize_url(self) -> str:
        params = {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "aud": "http://testserver/fhir/r4",
        }
        if self.method is not None:
            params["code_challenge"] = (
                challenge_for(self.verifier) if self.method == "S256" else self.verifier
            )
            params["code_challenge_method"] = self.method
        params.update(self.extra)
        return "/oauth/authorize/?" + urlencode(params)


def redirect_params(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.status_code
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT, response["Location"]
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def allow(client: Client, launch: Launch, keep: list[str] | None = None, patient: int | None = None) -> Any:
    """GET the consent page, then POST Allow keeping `keep` (everything offered if None)."""
    page = client.get(launch.authorize_url())
    assert page.status_code == 200, page.content[:500]
    offered = [
        choice.value
        for choice, _checked in page.context["resource_choices"] + page.context["context_choices"]
    ]
    data: dict[str, Any] = {"decision": "allow", "keep": offered if keep is None else keep}
    if patient is not None:
        data["patient"] = str(patient)
    return client.post(launch.authorize_url(), data)


def get_code(client: Client, launch: Launch, **kwargs: Any) -> str:
    params = redirect_params(allow(client, launch, **kwargs))
    assert params["state"] == launch.state
    return params["code"]


def exchange(
    launch: Launch, code: str, verifier: str | None = None, secret: str | None = None, **extra: str
) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": launch.redirect_uri,
        "client_id": launch.app.client_id,
        "code_verifier": launch.verifier if verifier is None else verifier,
        **extra,
    }
    if secret is not None:
        data["client_secret"] = secret
    return Client().post("/oauth/token/", data)


def refresh(app: Application, refresh_token: str, secret: str | None = None) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": app.client_id}
    if secret is not None:
        data["client_secret"] = secret
    return Client().post("/oauth/token/", data)


def api_grant(access_token: str) -> ApiGrant:
    request = RequestFactory().get("/fhir/r4/Patient", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return authenticate(request)
