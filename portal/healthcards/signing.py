"""Signing health cards: the issuer's key, its public JWKS, and the compact JWS a card is.

A card's payload is minified JSON compressed with raw DEFLATE and signed ES256 with
`zip: DEF` in the protected header; `kid` is the key's RFC 7638 thumbprint, which is how
a verifier picks the key from `<iss>/.well-known/jwks.json`.
"""

from __future__ import annotations

import base64
import json
import zlib
from functools import cache
from typing import Any

from django.conf import settings
from jwcrypto import jwk, jws

ALGORITHM = "ES256"
# An ES256 signature is 64 bytes (r and s), so 86 characters of base64url.
SIGNATURE_CHARS = 86


@cache
def _key(pem: str) -> jwk.JWK:
    return jwk.JWK.from_pem(pem.encode())


def signing_key() -> jwk.JWK:
    return _key(settings.PORTAL_SHC_PRIVATE_KEY)


def key_id() -> str:
    return str(signing_key().thumbprint())


def public_jwks() -> dict[str, list[dict[str, str]]]:
    """The issuer's public keys as verifiers fetch them (no private part)."""
    public = signing_key().export_public(as_dict=True)
    return {
        "keys": [
            {
                "kty": public["kty"],
                "crv": public["crv"],
                "x": public["x"],
                "y": public["y"],
                "use": "sig",
                "alg": ALGORITHM,
                "kid": key_id(),
            }
        ]
    }


def minified(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def deflated(data: bytes) -> bytes:
    # wbits -15: raw DEFLATE, no zlib header or checksum, as the `DEF` algorithm means.
    compressor = zlib.compressobj(level=9, wbits=-15)
    return compressor.compress(data) + compressor.flush()


def _protected_header() -> str:
    return json.dumps({"alg": ALGORITHM, "zip": "DEF", "kid": key_id()}, separators=(",", ":"))


def _b64_length(byte_count: int) -> int:
    return len(base64.urlsafe_b64encode(b"\0" * byte_count).rstrip(b"="))


def signed_length(payload: dict[str, Any]) -> int:
    """How long the compact JWS of `payload` will be, without signing it."""
    header = _b64_length(len(_protected_header().encode()))
    body = _b64_length(len(deflated(minified(payload))))
    return header + 1 + body + 1 + SIGNATURE_CHARS


def sign(payload: dict[str, Any]) -> str:
    """The payload as a compact JWS: header.deflated-payload.signature."""
    token = jws.JWS(deflated(minified(payload)))
    token.add_signature(signing_key(), alg=None, protected=_protected_header())
    return str(token.serialize(compact=True))
