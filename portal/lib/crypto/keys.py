"""The field-encryption keys and the encrypt/decrypt functions every encrypted value goes through.

A stored value is `fe1:<key id>:<Fernet token>`: `fe1` is the format version, the key id is
the first 8 hex digits of the key's SHA-256, so a value names the key that encrypted it. That
lets rotation skip what is already on the newest key (idempotent, resumable) and lets a value
encrypted with a key nobody configured fail with a message saying so.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from portal.lib.env import ConfigError, env_str

PREFIX = "fe1:"
BYTES_PREFIX = PREFIX.encode()
KEY_FILE_NAME = "field-keys.txt"
SETTING = "PORTAL_FIELD_KEYS"
_KEY_ID_LENGTH = 8


class DecryptionError(ValueError):
    """A stored value cannot be decrypted with the configured keys."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:_KEY_ID_LENGTH]


@dataclass(frozen=True)
class KeyRing:
    """The configured keys: the first encrypts, every one decrypts."""

    keys: tuple[bytes, ...]
    _fernets: dict[str, Fernet] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError(f"{SETTING} lists no key")
        fernets = {}
        for position, key in enumerate(self.keys, start=1):
            try:
                fernets[key_id(key)] = Fernet(key)
            except ValueError as exc:
                raise ConfigError(
                    f"{SETTING} key {position} is not a Fernet key (32 url-safe base64-encoded bytes); "
                    "make one with `portal rotate_field_keys --new-key`"
                ) from exc
        object.__setattr__(self, "_fernets", fernets)

    @property
    def current_id(self) -> str:
        return key_id(self.keys[0])

    def encrypt(self, plain: bytes) -> bytes:
        token = self._fernets[self.current_id].encrypt(plain)
        return BYTES_PREFIX + self.current_id.encode() + b":" + token

    def decrypt(self, stored: bytes) -> bytes:
        if not stored.startswith(BYTES_PREFIX):
            raise DecryptionError("the value is not in the field-encryption format (fe1:)")
        kid, _, token = stored[len(BYTES_PREFIX) :].partition(b":")
        fernet = self._fernets.get(kid.decode("ascii", "replace"))
        if fernet is None:
            raise DecryptionError(
                f"the value was encrypted with key {kid.decode('ascii', 'replace')}, which is not in "
                f"{SETTING}; add that key back (after the newest) to read it"
            )
        try:
            return fernet.decrypt(token)
        except InvalidToken as exc:
            raise DecryptionError(
                f"the value encrypted with key {kid.decode('ascii', 'replace')} failed its integrity check"
            ) from exc

    def stored_key_id(self, stored: str) -> str | None:
        """The id of the key a stored value was encrypted with (None for plaintext)."""
        if not stored.startswith(PREFIX):
            return None
        return stored[len(PREFIX) :].partition(":")[0]


def parse_keys(raw: str) -> tuple[bytes, ...]:
    return tuple(part.encode("ascii") for part in re.split(r"[\s,]+", raw.strip()) if part)


def load_key_ring(configured: str, data_dir: Path, *, production: bool) -> KeyRing:
    """The key ring from `PORTAL_FIELD_KEYS`, or (outside production) a key generated once.

    Production must configure the keys, so every server shares them and they live outside
    the database and its backups (a secrets manager, a mounted `_FILE`).
    """
    if configured.strip():
        return KeyRing(parse_keys(configured))
    if production:
        raise ConfigError(
            f"Production needs {SETTING} (or {SETTING}_FILE): one or more Fernet keys, newest first."
        )
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        _write_new_key(path)
    return KeyRing(parse_keys(path.read_text(encoding="ascii")))


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and linked into place, so two processes starting at once never read a
    # half-written key; the first link wins.
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(Fernet.generate_key() + b"\n")
    os.chmod(temporary, 0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


@cache
def key_ring() -> KeyRing:
    """The process's key ring: `settings.PORTAL_FIELD_KEYS` if set, else the environment."""
    from django.conf import settings

    configured = getattr(settings, SETTING, None)
    if configured:
        raw = configured if isinstance(configured, str) else ",".join(configured)
    else:
        raw = env_str(SETTING)
    return load_key_ring(
        raw, Path(settings.DATA_DIR), production=bool(getattr(settings, "PRODUCTION", False))
    )


def encrypt_bytes(plain: bytes) -> bytes:
    return key_ring().encrypt(plain)


def decrypt_bytes(stored: bytes) -> bytes:
    return key_ring().decrypt(stored)


def encrypt_text(plain: str) -> str:
    return key_ring().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt_text(stored: str) -> str:
    return key_ring().decrypt(stored.encode("ascii", "replace")).decode("utf-8")


def is_encrypted(stored: str | bytes) -> bool:
    if isinstance(stored, str):
        return stored.startswith(PREFIX)
    return stored.startswith(BYTES_PREFIX)
