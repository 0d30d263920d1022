"""The SMART Health Card signing key: configured, or generated once and kept outside production.

Read by settings before Django is set up, so this module imports nothing from Django.
Health cards are signed ES256, so the key must be an elliptic-curve key on P-256; a
wrong key is refused when the settings load rather than when a patient asks for a card.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portal.lib.keyfile import write_once

KEY_FILE_NAME = "shc-private-key.pem"


def shc_private_key(configured: str, data_dir: Path, *, production: bool) -> str:
    """The PEM of the P-256 key that signs health cards.

    Production must configure it (`PORTAL_SHC_PRIVATE_KEY` or `_FILE`): every server must
    sign with the one key verifiers fetch from `/.well-known/jwks.json`, and a card stays
    verifiable only while its key is published. Elsewhere a key is generated on first use
    and kept under the data directory.
    """
    if configured.strip():
        pem = configured.strip()
    elif production:
        from portal.lib.env import ConfigError

        raise ConfigError(
            "Production needs PORTAL_SHC_PRIVATE_KEY (or PORTAL_SHC_PRIVATE_KEY_FILE): an EC P-256 PEM."
        )
    else:
        path = data_dir / KEY_FILE_NAME
        if not path.exists():
            _write_new_key(path)
        pem = path.read_text(encoding="utf-8")
    _check_p256(pem)
    return pem


def _check_p256(pem: str) -> None:
    from portal.lib.env import ConfigError

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError("PORTAL_SHC_PRIVATE_KEY is not an unencrypted PEM private key.") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError("PORTAL_SHC_PRIVATE_KEY must be an elliptic-curve key on P-256 (for ES256).")


def _write_new_key(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_once(path, pem)
