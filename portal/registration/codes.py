"""Activation codes as people see them, and the keyed hash we store instead.

Codes use Crockford's base32 alphabet (no I, L, O or U), twelve characters in three
groups: about 60 bits, far beyond guessing within the rate limits. Typing is forgiving:
case, spaces and hyphens do not matter, and O, I and L are read as 0, 1 and 1.
"""

from __future__ import annotations

import secrets

from django.utils.crypto import salted_hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
GROUP = 4
HASH_SALT = "portal.registration.activation-code"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(typed: str) -> str:
    """The code as we hash it: upper case, separators dropped, look-alikes mapped."""
    return "".join(typed.split()).replace("-", "").upper().translate(_READ_AS)


def display(code: str) -> str:
    """XXXX-XXXX-XXXX, for letters and emails."""
    code = normalize(code)
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def code_hash(typed: str) -> str:
    """HMAC-SHA256 keyed by SECRET_KEY: a stolen table yields no codes.

    Rotating SECRET_KEY therefore retires every outstanding code; staff issue new ones.
    """
    return salted_hmac(HASH_SALT, normalize(typed), algorithm="sha256").hexdigest()


def looks_like_a_code(typed: str) -> bool:
    code = normalize(typed)
    return len(code) == LENGTH and all(character in ALPHABET for character in code)
