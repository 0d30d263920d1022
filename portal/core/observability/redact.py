"""Masking secrets that reach a log record by mistake.

This is the safety net, not the design: log calls name ids and route patterns, never
bodies, headers or query strings. But a library (or a careless `%s` of a dict) may pass a
password, a bearer token or a session cookie as an argument, and a log line is copied to
places a database never goes, so anything that looks like a secret is replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[redacted]"

# Names whose values are secret wherever they appear: form fields, headers, JSON keys.
SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|authorization|cookie|session|csrf|api[_-]?key|"
    r"credential|code[_-]?verifier|private[_-]?key|recovery[_-]?code",
    re.IGNORECASE,
)
_SECRET_NAME_PART = SECRET_NAME.pattern.replace("(", "(?:")

# "Bearer abc...", "Basic dXNlcjpwYXNz": the credential after an auth scheme.
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
# password=..., "token": "...", Authorization: ... in query strings, form bodies, JSON
# and header dumps: the value after a secret-looking name.
_NAMED_VALUE = re.compile(
    r"""(?P<name>["']?[\w-]*(?:""" + _SECRET_NAME_PART + r""")[\w-]*["']?\s*[=:]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s&,;"'}]+)""",
    re.IGNORECASE,
)
# URL query parameters that carry one-time secrets under plain names: OAuth's `code`, and
# signed links' keys and signatures.
_QUERY_SECRET = re.compile(r"(?P<name>[?&](?:code|key|sig|signature)=)[^&\s#\"']+", re.IGNORECASE)
# Mapping keys that are secret only as a whole name (an MFA or OAuth code).
SECRET_KEYS = frozenset({"code", "key", "sig", "signature"})
# A JSON Web Token (ID tokens, SMART Health Cards) on its own.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


def redact_text(text: str) -> str:
    text = _AUTH_SCHEME.sub(lambda match: f"{match.group(1)} {MASK}", text)
    text = _NAMED_VALUE.sub(lambda match: match.group("name") + MASK, text)
    text = _QUERY_SECRET.sub(lambda match: match.group("name") + MASK, text)
    return _JWT.sub(MASK, text)


def is_secret_name(name: object) -> bool:
    if not isinstance(name, str):
        return False
    return name.lower() in SECRET_KEYS or SECRET_NAME.search(name) is not None


def redact_value(value: Any, depth: int = 0) -> Any:
    """`value` with every secret masked: strings scanned, mappings masked by key, containers
    walked (to a fixed depth, so a cyclic structure cannot hang the logger)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth > 4:
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {
            key: MASK if is_secret_name(key) else redact_value(item, depth + 1) for key, item in _items(value)
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item, depth + 1) for item in value]
    # Anything else is logged by its str(): scan that, since objects (exceptions, request
    # wrappers) can render secrets too.
    return redact_text(str(value))


def _items(mapping: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    # A QueryDict (request.POST) holds lists; `lists()` keeps every value, where items()
    # would show only the last.
    lists = getattr(mapping, "lists", None)
    if callable(lists):
        return [(key, values[0] if len(values) == 1 else values) for key, values in lists()]
    return list(mapping.items())
