"""Finding English left on a page, an email, a text message or a PDF shown in Spanish.

A string is English when it is, word for word, an English message of the catalogue
whose Spanish differs (it was marked but not translated where it was shown), or when it
reads as English: at least two common English words and no Spanish one. Invented test
data (names, drug names, codes) is passed in as `allowed` by the caller.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "es" / "LC_MESSAGES" / "django.po"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Common English words that are not also Spanish words ("a", "no", "son" are both).
ENGLISH = _words(
    """
    the your you and with to of for is are this that from on in at by be have has will can
    was were or an it its we our us please here there when what who which more about if yet
    any all not been into than then them they their these those would should could must
    only also after before until while where how why new see sign out my back next
    appointment appointments message messages bill bills payment payments visit visits
    record records result results request requests download print save cancel submit send
    search close delete edit view change choose add remove show hide none today yesterday
    tomorrow week month year day days hours minutes due paid open closed pending details
    help home settings profile account password username email phone address name date time
    """
)

# Spanish words, so a chunk that mixes languages (a drug name inside Spanish) passes.
SPANISH = _words(
    """
    de la el los las que en y su sus para por con una un del al se no es está están usted le
    lo sin más cita citas mensaje mensajes pago pagos factura facturas visita visitas
    resultado resultados solicitud solicitudes ver guardar cancelar enviar buscar cerrar
    hoy ayer mañana semana mes año día días horas minutos sí o u ni como cuando donde qué
    quién cuál este esta estos estas ese esa nuevo nueva aquí hay ha han fue ser estar puede
    tiene todos todas ninguno ninguna nada cuenta correo teléfono dirección nombre fecha hora
    """
)

# A date written the English way ("May 23, 2027", "Nov. 24"): Spanish puts the day first.
ENGLISH_DATE = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan\.|Feb\.|Aug\.|Sept\.|Oct\.|Nov\.|Dec\.)\s+\d{1,2}\b"
)
WORD = re.compile(r"[A-Za-zÀ-ÿ']+")
SPACE = re.compile(r"\s+")
# Visible text also lives in these attributes (read aloud, shown on hover or in fields).
TEXT_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder", "aria-description")
SKIPPED_ELEMENTS = frozenset({"script", "style", "code", "pre", "svg"})
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


class _TextParser(HTMLParser):
    """Collect visible text chunks, skipping scripts, styles and anything marked another language."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, whether it hides its contents)

    @property
    def _hidden(self) -> bool:
        return any(hides for _tag, hides in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        lang = values.get("lang", "")
        hides = (
            tag in SKIPPED_ELEMENTS
            or (bool(lang) and not lang.startswith("es"))
            or values.get("translate") == "no"
        )
        if not self._hidden and not hides:
            self.chunks.extend(values[name] for name in TEXT_ATTRIBUTES if values.get(name))
            if tag == "input" and values.get("type") in ("submit", "button", "reset"):
                self.chunks.append(values.get("value", ""))
        if tag not in VOID_ELEMENTS:
            self._stack.append((tag, hides))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        # Pop back to the matching open tag; stray end tags are ignored.
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)


def html_text(html: str) -> list[str]:
    """The page's visible text, as whitespace-normalised chunks."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    return clean(parser.chunks)


def pdf_text(content: bytes) -> list[str]:
    """The text of every page of a PDF, line by line."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    lines: list[str] = []
    try:
        for page in PdfReader(io.BytesIO(content)).pages:
            lines.extend(page.extract_text().splitlines())
    except PdfReadError:
        # Not one of the portal's PDFs: an uploaded document that is only a stub in the tests.
        return []
    return clean(lines)


def calendar_text(ics: str) -> list[str]:
    """What a calendar app shows of an .ics file: its summaries, descriptions and places."""
    unfolded = re.sub(r"\r?\n[ \t]", "", ics)
    shown = re.findall(r"^(?:SUMMARY|DESCRIPTION|LOCATION)[^:]*:(.*)$", unfolded, re.MULTILINE)
    lines: list[str] = []
    for value in shown:
        lines.extend(value.replace("\\n", "\n").replace("\\,", ",").replace("\\;", ";").splitlines())
    return clean(lines)


def plain_text(text: str) -> list[str]:
    return clean(text.splitlines())


def clean(chunks: Iterable[str]) -> list[str]:
    return [normal for normal in (SPACE.sub(" ", chunk).strip() for chunk in chunks) if WORD.search(normal)]


@cache
def catalogue_english() -> frozenset[str]:
    """The catalogue's English messages whose Spanish is different, without placeholders."""
    text = CATALOGUE.read_text(encoding="utf-8")
    entries = re.findall(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)', text, re.MULTILINE)
    english: set[str] = set()
    for quoted_id, quoted_str in entries:
        msgid = _joined(quoted_id)
        if msgid and "%" not in msgid and "{" not in msgid and msgid != _joined(quoted_str):
            english.add(_key(msgid))
    return frozenset(english)


def _joined(quoted: str) -> str:
    return "".join(re.findall(r'"(.*)"', quoted)).replace('\\"', '"').replace("\\n", " ")


def _key(text: str) -> str:
    return SPACE.sub(" ", text).strip().strip(".:;,!?()").strip().lower()


def is_english(chunk: str, allowed: Iterable[str] = ()) -> bool:
    """Whether `chunk` is English text once the data strings in `allowed` are taken out."""
    if not _reads_english(chunk):
        return False  # the common case, decided without scanning the (long) list of data
    for data in allowed:
        if data in chunk:
            chunk = chunk.replace(data, " ")
    return _reads_english(chunk)


def _reads_english(chunk: str) -> bool:
    words = [word.lower() for word in WORD.findall(chunk)]
    if not words:
        return False
    key = _key(chunk)
    if (key in catalogue_english() and len(key) > 2) or ENGLISH_DATE.search(chunk):
        return True
    english = sum(word in ENGLISH for word in words)
    spanish = sum(word in SPANISH for word in words)
    return english >= 2 and spanish == 0


def english_in(chunks: Iterable[str], allowed: list[str] | tuple[str, ...] = ()) -> Iterator[str]:
    """The chunks that are English; `allowed` goes longest first ("Alice Able" before "Alice")."""
    for chunk in chunks:
        if is_english(chunk, allowed):
            yield chunk
