"""SMART Backend Services: a service signs a JWT with its registered key and gets a system token."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from django.core.cache import cache as django_cache
from django.test import Client, RequestFactory, override_settings
from jwcrypto import jwk, jwt

from portal.audit.models import AuditEvent
from portal.bulk.auth import authenticate_system, token_hash
from portal.bulk.backend_auth import (
    ASSERTION_TYPE,
    FAILURES_ALLOWED,
    SystemScope,
    grant_scopes,
    parse_system_scope,
)
from portal.bulk.models import BackendService, SystemToken, UsedAssertion
from portal.fhir.api.auth import ApiError
from portal.test import World, query_count

TOKEN_URL = "http://testserver/oauth/token/"


@cache
def rsa_key(kid: str = "rsa-1") -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=2048, kid=kid)


@cache
def ec_key(kid: str = "ec-1", curve: str = "P-384") -> jwk.JWK:
    return jwk.JWK.generate(kty="EC", crv=curve, kid=kid)


def public_set(*keys: jwk.JWK) -> dict[str, Any]:
    return {"keys": [json.loads(key.export_public()) for key in keys]}


def make_service(
    *keys: jwk.JWK, scopes: str = "system/*.read", status: str = BackendService.Status.ACTIVE
) -> BackendService:
    return BackendService.objects.create(
        name="Population Health",
        jwks=public_set(*(keys or (rsa_key(), ec_key()))),
        scopes=scopes,
        status=status,
    )


def assertion(
    service: BackendService,
    key: jwk.JWK | None = None,
    *,
    alg: str = "RS384",
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    key = key or rsa_key()
    now = int(time.time())
    body = {
        "iss": service.client_id,
        "sub": service.client_id,
        "aud": TOKEN_URL,
        "exp": now + 240,
        "jti": str(uuid.uuid4()),
    } | claims
    body = {name: value for name, value in body.items() if value is not None}
    token = jwt.JWT(header={"alg": alg, "kid": key.get("kid"), "typ": "JWT"} | (header or {}), claims=body)
    token.make_signed_token(key)
    return str(token.serialize())


def request_token(
    signed: str, scope: str = "system/*.read", *, source: str = "127.0.0.1", **extra: str
) -> Any:
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
        "scope": scope,
    } | extra
    return Client(REMOTE_ADDR=source).post("/oauth/token/", data)


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    django_cache.clear()  # failure counts live in the cache, which outlives the test database


def _grant_for(access_token: str) -> Any:
    request = RequestFactory().get("/fhir/r4/$export", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return authenticate_system(request)


def _refused(response: Any, error: str, status: int) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"] == error
    assert response["Cache-Control"] == "no-store"
    assert "access_token" not in response.json()


# Getting a token -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "alg"),
    [(rsa_key(), "RS384"), (ec_key(), "ES384"), (rsa_key(), "RS256"), (ec_key("ec-256", "P-256"), "ES256")],
    ids=["RS384", "ES384", "RS256", "ES256"],
)
def test_a_signed_assertion_gets_a_token_the_bulk_api_accepts(db: None, key: jwk.JWK, alg: str) -> None:
    service = make_service(key)
    response = request_token(assertion(service, key, alg=alg))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "system/*.read"
    assert response["Cache-Control"] == "no-store"
    grant = _grant_for(body["access_token"])
    assert grant.service == service
    assert grant.scopes == frozenset({"system/*.read"})


def test_the_token_is_stored_hashed(db: None) -> None:
    service = make_service()
    access_token = request_token(assertion(service)).json()["access_token"]
    stored = SystemToken.objects.get(service=service)
    assert stored.token_hash == token_hash(access_token)
    assert access_token not in json.dumps(list(SystemToken.objects.values()), default=str)
    assert not AuditEvent.objects.filter(detail__icontains=access_token).exists()


@override_settings(PORTAL_BULK_TOKEN_SECONDS=120)
def test_the_lifetime_follows_the_setting(db: None) -> None:
    service = make_service()
    assert request_token(assertion(service)).json()["expires_in"] == 120


def test_the_issuer_token_url_is_an_accepted_audience(db: None) -> None:
    service = make_service()
    with override_settings(PORTAL_OAUTH_ISSUER="https://portal.example.org/oauth"):
        signed = assertion(service, aud="https://portal.example.org/oauth/token/")
        assert request_token(signed).status_code == 200
        signed = assertion(
            service, aud=["https://elsewhere.example", "https://portal.example.org/oauth/token"]
        )
        assert request_token(signed).status_code == 200


def test_issuing_is_audited_without_a_patient(db: None) -> None:
    service = make_service()
    request_token(assertion(service))
    event = AuditEvent.objects.get(action="bulk.token_issued")
    assert event.patient_id is None
    assert event.object_id == str(service.pk)
    assert event.detail["client_id"] == service.client_id
    assert event.actor_role == AuditEvent.ActorRole.SYSTEM


def test_a_token_request_runs_a_bounded_number_of_queries(db: None) -> None:
    service = make_service()
    signed = assertion(service)
    assert query_count(lambda: request_token(signed)) <= 14  # savepoints included


# Scopes --------------------------------------------------------------------------------


def test_scopes_are_narrowed_to_what_the_service_may_have(db: None) -> None:
    service = make_service(scopes="system/Observation.read system/Patient.rs")
    body = request_token(
        assertion(service), scope="system/Observation.rs system/Condition.read system/*.read launch/patient"
    ).json()
    assert body["scope"].split() == [
        "system/Observation.rs",
        "system/Observation.read",
        "system/Patient.read",
    ]
    grant = _grant_for(body["access_token"])
    assert "system/Condition.read" not in grant.scopes


def test_a_scope_beyond_the_allowed_ones_is_refused(db: None) -> None:
    service = make_service(scopes="system/Observation.read")
    response = request_token(assertion(service), scope="system/Condition.read patient/*.read")
    _refused(response, "invalid_scope", 400)
    assert not SystemToken.objects.exists()
    event = AuditEvent.objects.get(action="bulk.token_refused")
    assert event.detail["error"] == "invalid_scope"
    # Refused before the jti was used: the service may try again with the same assertion.
    assert not UsedAssertion.objects.exists()


def test_write_scopes_grant_nothing(db: None) -> None:
    service = make_service(scopes="system/*.*")
    _refused(request_token(assertion(service), scope="system/*.write system/*.cud"), "invalid_scope", 400)


@pytest.mark.parametrize(
    ("requested", "allowed", "granted"),
    [
        ("system/*.read", "system/*.read", ["system/*.read"]),
        ("system/*.rs", "system/*.read", ["system/*.rs"]),
        ("system/*.read", "system/Observation.read", ["system/Observation.read"]),
        ("system/Observation.r", "system/*.rs", ["system/Observation.r"]),
        ("system/Observation.cruds", "system/*.read", ["system/Observation.rs"]),
        ("system/Observation.sr", "system/*.read", []),  # letters out of order
        ("system/Observation.rs?category=laboratory", "system/*.read", []),
        ("patient/*.read user/*.read openid", "system/*.read", []),
        ("system/Observation.read", "junk system/Patient.read", []),
    ],
)
def test_grant_scopes(requested: str, allowed: str, granted: list[str]) -> None:
    assert grant_scopes(requested, allowed) == granted


def test_scope_parsing() -> None:
    assert parse_system_scope("system/*.read") == SystemScope("*", frozenset("rs"), v1=True)
    assert parse_system_scope("system/Observation.s") == SystemScope("Observation", frozenset("s"))
    assert parse_system_scope("system/observation.read") is None
    assert parse_system_scope("system/Observation.rr") is None


# Refusals ------------------------------------------------------------------------------


def test_an_unknown_key_id_is_refused(db: None) -> None:
    service = make_service(rsa_key())
    _refused(request_token(assertion(service, rsa_key("rsa-other"))), "invalid_client", 401)


def test_a_wrong_signature_is_refused(db: None) -> None:
    service = make_service(rsa_key())
    impostor = jwk.JWK.generate(kty="RSA", size=2048, kid=rsa_key().get("kid"))  # same kid, other key
    _refused(request_token(assertion(service, impostor)), "invalid_client", 401)
    header, claims, signature = assertion(service).split(".")
    tampered = f"{header}.{claims[:-4]}AAAA.{signature}"
    _refused(request_token(tampered), "invalid_client", 401)


def test_the_algorithm_must_fit_the_key(db: None) -> None:
    service = make_service(ec_key())
    p256 = jwk.JWK(**(json.loads(ec_key("ec-256", "P-256").export_private()) | {"kid": ec_key().get("kid")}))
    # A P-256 key signing ES384 under the registered P-384 key's kid.
    _refused(request_token(assertion(service, p256, alg="ES256")), "invalid_client", 401)
    hmac = jwk.JWK.generate(kty="oct", size=256, kid=ec_key().get("kid"))
    _refused(request_token(assertion(service, hmac, alg="HS256")), "invalid_client", 401)


def test_a_key_set_url_is_never_fetched(db: None) -> None:
    service = make_service()
    signed = assertion(service, header={"jku": "http://127.0.0.1:9/jwks.json"})
    response = request_token(signed)
    _refused(response, "invalid_client", 401)
    assert "jku" in response.json()["error_description"]


@dataclass(frozen=True)
class FromNow:
    """A claim's time, this many seconds from when the test runs."""

    seconds: int

    def __str__(self) -> str:
        return f"now{self.seconds:+d}s"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://elsewhere.example/token"},
        {"aud": None},
        {"aud": ["https://elsewhere.example/token"]},
        {"sub": "svc-someone-else"},
        {"exp": FromNow(-600)},
        {"exp": FromNow(3600)},
        {"exp": None},
        {"exp": "soon"},
        {"exp": True},
        {"exp": 10**400},
        {"jti": None},
        {"jti": ""},
        {"jti": 42},
        {"jti": "x" * 256},
        {"jti": "nul\x00byte"},
        {"nbf": FromNow(600)},
        {"iat": "yesterday"},
    ],
    ids=lambda claims: ",".join(f"{name}={str(value)[:20]}" for name, value in claims.items()),
)
def test_bad_claims_are_refused(db: None, claims: dict[str, Any]) -> None:
    service = make_service()
    # Times are relative to when the test runs, not to when it was collected: the same ids
    # on every xdist worker, and still in the future however late the test runs.
    now = int(time.time())
    claims = {
        name: now + value.seconds if isinstance(value, FromNow) else value for name, value in claims.items()
    }
    response = request_token(assertion(service, **claims))
    _refused(response, "invalid_client", 401)
    assert not SystemToken.objects.exists()
    assert AuditEvent.objects.filter(action="bulk.token_refused", object_id=str(service.pk)).count() == 1


def test_an_expired_assertion_is_refused(db: None) -> None:
    service = make_service()
    response = request_token(assertion(service, exp=int(time.time()) - 120))
    _refused(response, "invalid_client", 401)
    assert "expired" in response.json()["error_description"]


def test_a_small_clock_skew_is_forgiven(db: None) -> None:
    service = make_service()
    assert request_token(assertion(service, exp=int(time.time()) - 20)).status_code == 200
    assert request_token(assertion(service, exp=int(time.time()) + 320)).status_code == 200


def test_a_replayed_assertion_is_refused(db: None) -> None:
    service = make_service()
    signed = assertion(service)
    assert request_token(signed).status_code == 200
    response = request_token(signed)
    _refused(response, "invalid_client", 401)
    assert "already used" in response.json()["error_description"]
    assert SystemToken.objects.count() == 1


def test_the_same_jti_from_two_services_is_fine(db: None) -> None:
    first, second = make_service(), make_service()
    assert request_token(assertion(first, jti="same")).status_code == 200
    assert request_token(assertion(second, jti="same")).status_code == 200


def test_expired_assertions_are_forgotten(db: None) -> None:
    service = make_service()
    old = UsedAssertion.objects.create(service=service, jti="old", expires_at="2020-01-01T00:00:00Z")
    assert request_token(assertion(service)).status_code == 200
    assert not UsedAssertion.objects.filter(pk=old.pk).exists()
    assert UsedAssertion.objects.count() == 1


def test_a_suspended_service_gets_no_token_and_its_tokens_stop(db: None) -> None:
    service = make_service()
    access_token = request_token(assertion(service)).json()["access_token"]
    service.status = BackendService.Status.SUSPENDED
    service.save()
    _refused(request_token(assertion(service)), "invalid_client", 401)
    with pytest.raises(ApiError) as refusal:
        _grant_for(access_token)
    assert refusal.value.status == 401


def test_an_unknown_client_is_refused_and_not_audited(db: None) -> None:
    service = make_service()
    signed = assertion(service, iss="svc-nobody", sub="svc-nobody")
    _refused(request_token(signed), "invalid_client", 401)
    assert not AuditEvent.objects.filter(action="bulk.token_refused").exists()


def test_a_mismatched_client_id_parameter_is_refused(db: None) -> None:
    service = make_service()
    _refused(request_token(assertion(service), client_id="svc-other"), "invalid_client", 401)


def test_repeated_failures_are_throttled(db: None) -> None:
    service = make_service()
    for _attempt in range(FAILURES_ALLOWED):
        _refused(request_token(assertion(service, aud="https://elsewhere.example")), "invalid_client", 401)
    throttled = request_token(assertion(service))
    _refused(throttled, "invalid_client", 429)
    assert throttled["Retry-After"]
    assert AuditEvent.objects.filter(action="bulk.token_refused").count() == FAILURES_ALLOWED


def test_failures_from_elsewhere_do_not_lock_the_real_service_out(db: None) -> None:
    # A client_id is no secret: forged assertions from another address must not stop the
    # service's own correctly signed ones.
    service = make_service()
    for _attempt in range(FAILURES_ALLOWED + 3):
        forged = assertion(service, aud="https://elsewhere.example")
        request_token(forged, source="127.0.0.9")
    _refused(request_token(assertion(service), source="127.0.0.9"), "invalid_client", 429)
    assert request_token(assertion(service), source="127.0.0.1").status_code == 200


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"client_assertion_type": None}, "invalid_request"),
        (
            {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
            "invalid_request",
        ),
        ({"client_assertion": None}, "invalid_request"),
        ({"scope": None}, "invalid_request"),
        ({"scope": "   "}, "invalid_request"),
        ({"scope": "system/*.read " * 500}, "invalid_scope"),
        ({"client_assertion": "not-a-jwt"}, "invalid_client"),
        ({"client_assertion": "a.b.c"}, "invalid_client"),
        ({"client_assertion": "e30.e30.e30"}, "invalid_client"),  # {} . {} . junk
        ({"client_assertion": "W10.W10.AA"}, "invalid_client"),  # [] . []
        ({"client_assertion": "x" * 20000}, "invalid_client"),
        ({"client_assertion": "\x00.\x00.\x00"}, "invalid_client"),
        ({"client_assertion": '{"payload":"e30","signature":"AA"}'}, "invalid_client"),  # JSON serialisation
    ],
)
def test_missing_or_garbage_parameters_are_refused(db: None, data: dict[str, str | None], error: str) -> None:
    base = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": "e30.e30.AA",
        "scope": "system/*.read",
    }
    sent = {name: value for name, value in (base | data).items() if value is not None}
    response = Client().post("/oauth/token/", sent)
    _refused(response, error, 401 if error == "invalid_client" else 400)


def test_garbage_inside_a_well_formed_jwt_is_refused(db: None) -> None:
    import base64

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    service = make_service()
    headers: list[Any] = [
        {"alg": "none", "kid": "rsa-1"},
        {"alg": ["RS384"], "kid": "rsa-1"},
        {"alg": "RS384", "kid": {"a": 1}},
        {"alg": "RS384"},
        {"alg": "RS384", "kid": "rsa-1", "crit": ["b64"], "b64": False},
        {"alg": "RS384", "kid": "rsa-1", "typ": ["JWT"]},
    ]
    claims = {"iss": service.client_id, "sub": service.client_id, "aud": TOKEN_URL, "exp": time.time() + 60}
    for header in headers:
        _refused(request_token(f"{part(header)}.{part(claims)}.AAAA"), "invalid_client", 401)
    nested = "[" * 5000 + "]" * 5000
    encoded = base64.urlsafe_b64encode(nested.encode()).decode().rstrip("=")
    _refused(request_token(f"{encoded}.{encoded}.AA"), "invalid_client", 401)
    for iss in (None, 12, ["x"], "y" * 65, "svc-\x00", "svc-\n"):
        body = claims | {"iss": iss, "sub": iss}
        _refused(
            request_token(f"{part({'alg': 'RS384', 'kid': 'rsa-1'})}.{part(body)}.AA"), "invalid_client", 401
        )


def test_broken_registered_keys_never_cause_an_error(db: None) -> None:
    service = make_service()
    service.jwks = {
        "keys": [
            "not a key",
            None,
            {"kty": "RSA", "kid": rsa_key().get("kid"), "n": "!!", "e": 5},
            {
                "kty": "RSA",
                "kid": rsa_key().get("kid"),
                "n": "AA",
                "e": "AQAB",
                "d": "AA",
            },  # private: skipped
            json.loads(rsa_key().export_public()),
        ]
    }
    service.save()
    assert request_token(assertion(service)).status_code == 200
    broken_sets: list[Any] = [{"keys": "nope"}, [], "text", {"keys": [{"kid": "rsa-1", "kty": "RSA"}]}]
    for broken in broken_sets:
        service.jwks = broken
        service.save()
        _refused(request_token(assertion(service)), "invalid_client", 401)


def test_repeated_parameters_are_refused(db: None) -> None:
    service = make_service()
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": [assertion(service), assertion(service)],
        "scope": "system/*.read",
    }
    _refused(Client().post("/oauth/token/", data), "invalid_request", 400)


def test_other_grants_still_reach_the_oauth_toolkit(db: None) -> None:
    response = Client().post("/oauth/token/", {"grant_type": "authorization_code", "code": "nope"})
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "invalid_request", "invalid_grant")
    unsupported = Client().post(
        "/oauth/token/", {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}
    )
    _refused(unsupported, "unsupported_grant_type", 400)
    assert Client().post("/oauth/token/", {"grant_type": "password"}).status_code == 400


def test_discovery_advertises_backend_services(world: World) -> None:
    body = Client().get("/fhir/r4/.well-known/smart-configuration").json()
    assert "client-confidential-asymmetric" in body["capabilities"]
    assert "private_key_jwt" in body["token_endpoint_auth_methods_supported"]
    assert {"RS384", "ES384"} <= set(body["token_endpoint_auth_signing_alg_values_supported"])
    assert "client_credentials" in body["grant_types_supported"]
    assert {"system/*.rs", "system/*.read"} <= set(body["scopes_supported"])
