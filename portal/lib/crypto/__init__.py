"""Field-level encryption at rest for the most sensitive identifiers and uploads.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under keys
kept outside the database (`PORTAL_FIELD_KEYS` or `PORTAL_FIELD_KEYS_FILE`). The first key
encrypts; every listed key decrypts, so a key is rotated by listing a new one first and running
`portal rotate_field_keys`. See docs/security-at-rest.md.
"""

from __future__ import annotations

from portal.lib.crypto.keys import (
    PREFIX,
    DecryptionError,
    KeyRing,
    decrypt_bytes,
    decrypt_text,
    encrypt_bytes,
    encrypt_text,
    is_encrypted,
    key_ring,
)

__all__ = [
    "PREFIX",
    "DecryptionError",
    "KeyRing",
    "decrypt_bytes",
    "decrypt_text",
    "encrypt_bytes",
    "encrypt_text",
    "is_encrypted",
    "key_ring",
]
