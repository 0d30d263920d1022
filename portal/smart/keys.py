"""The OpenID Connect signing key: configured, or generated once and kept outside production.

Read by settings before Django is set up, so this module imports nothing from Django.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from portal.lib.keyfile import write_once

KEY_FILE_NAME = "oidc-private-key.pem"


def oidc_private_key(configured: str, data_dir: Path, *, production: bool) -> str:
    """The PEM of the RSA key that signs ID tokens.

    Production must configure it (`PORTAL_OIDC_PRIVATE_KEY` or `_FILE`), so that every
    server signs with the same key and a restart does not invalidate issued ID tokens.
    Elsewhere a key is generated on first use and kept under the data directory.
    """
    if configured.strip():
        return configured.strip()
    if production:
        from portal.lib.env import ConfigError

        raise ConfigError(
            "Production needs PORTAL_OIDC_PRIVATE_KEY (or PORTAL_OIDC_PRIVATE_KEY_FILE): an RSA PEM."
        )
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        _write_new_key(path)
    return path.read_text(encoding="utf-8")


def _write_new_key(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_once(path, pem)
