"""A health card as a QR code: `shc:/` then two digits per character of the JWS, one code.

The prefix is a byte-mode segment and the digits a numeric-mode one, which is what lets
about 1,200 characters of card fit in a version 22 code (the largest the specification
allows) at error correction level L.
"""

from __future__ import annotations

import segno
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PREFIX = "shc:/"
MAX_VERSION = 22
# The character each pair of digits counts from: "-" is the lowest in base64url and ".".
OFFSET = ord("-")


def numeric(jws: str) -> str:
    """The JWS as the QR code's numeric part: each character c as two digits, ord(c) - 45."""
    return "".join(f"{ord(character) - OFFSET:02d}" for character in jws)


def jws_from_qr_text(text: str) -> str:
    """The JWS back from a scanned `shc:/...` text (what a verifier does first)."""
    if not text.startswith(PREFIX):
        raise ValueError("not a SMART Health Card QR code")
    digits = text.removeprefix(PREFIX)
    if len(digits) % 2 or not digits.isdigit():
        raise ValueError("a health card QR code has pairs of digits after shc:/")
    return "".join(chr(int(digits[n : n + 2]) + OFFSET) for n in range(0, len(digits), 2))


def qr_code(jws: str) -> segno.QRCode:
    """One QR code for the card; refuses a card too long for a version 22 code."""
    # A list is one segment per item, each in the best mode for it (segno's typing says str only).
    code = segno.make_qr([PREFIX, numeric(jws)], error="L")  # type: ignore[arg-type]
    if not isinstance(code.version, int) or code.version > MAX_VERSION:
        raise ValueError(f"a {len(jws)}-character card needs QR version {code.version}; at most 22 scan well")
    return code


def qr_svg(jws: str, label: str) -> SafeString:
    """The QR code as inline SVG that scales to its box, named for screen readers.

    Dark on an explicit white ground with the four-module quiet zone, so it scans on a
    dark page too.
    """
    svg = qr_code(jws).svg_inline(scale=1, border=4, omitsize=True, dark="#000", light="#fff")
    named = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" focusable="false" ', 1)
    return mark_safe(named)  # noqa: S308  (segno's own markup; the label is escaped)  # nosec B308, B703
