"""The Spanish catalogue is complete: no empty or fuzzy translations slip through."""

from __future__ import annotations

import re
from pathlib import Path

from django.utils import translation

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "es" / "LC_MESSAGES" / "django.po"
ENTRY = re.compile(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)', re.MULTILINE)


def _joined(quoted: str) -> str:
    return "".join(re.findall(r'"(.*)"', quoted))


def test_every_message_is_translated() -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    live = "\n".join(line for line in text.splitlines() if not line.startswith("#~")) + "\n"
    entries = [(_joined(msgid), _joined(msgstr)) for msgid, msgstr in ENTRY.findall(live)]
    untranslated = [msgid for msgid, msgstr in entries if msgid and not msgstr]
    assert len(entries) > 100
    assert untranslated == []
    assert "#, fuzzy" not in live


def test_the_compiled_catalogue_is_used() -> None:
    with translation.override("es"):
        assert translation.gettext("Sign in") == "Iniciar sesión"
        assert translation.gettext("Only members of staff can use emergency access.") != (
            "Only members of staff can use emergency access."
        )
