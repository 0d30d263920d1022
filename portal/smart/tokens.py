"""Finding an OAuth token by the value an app presents, under hashed storage.

django-oauth-toolkit keeps only `token_checksum` (SHA-256 of the token, hex) for access
and refresh tokens (settings `COMPLIANT_BCP_RFC9700_TOKEN_STORAGE`); the `token` column
is blank. So every lookup hashes the presented value first and matches the checksum,
never the plaintext column.
"""

from __future__ import annotations

import hashlib

from oauth2_provider.models import AccessToken, RefreshToken

from portal.smart.models import TokenBinding

# Longer than any token the toolkit issues (30 characters by default); a longer value is
# refused before hashing, so junk costs nothing.
MAX_TOKEN_LENGTH = 500


def checksum(value: str) -> str:
    """The stored checksum of a presented token value."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def plausible(value: str) -> bool:
    return 0 < len(value) <= MAX_TOKEN_LENGTH


def bound_access_token(value: str) -> AccessToken | None:
    """The access token presented, with its binding, authorization, patient and app loaded."""
    if not plausible(value):
        return None
    return (
        AccessToken.objects.select_related(
            "binding__authorization__patient",
            "binding__authorization__user",
            "binding__authorization__application",
        )
        .filter(token_checksum=checksum(value))
        .first()
    )


def live_refresh_token(value: str) -> RefreshToken | None:
    """The unrevoked refresh token presented, with its access token's binding loaded."""
    if not plausible(value):
        return None
    return (
        RefreshToken.objects.select_related(
            "application",
            "access_token__binding__authorization__patient",
            "access_token__binding__authorization__user",
            "access_token__binding__authorization__application",
        )
        .filter(token_checksum=checksum(value), revoked__isnull=True)
        .first()
    )


def binding_of(token: AccessToken | None) -> TokenBinding | None:
    return getattr(token, "binding", None) if token is not None else None
