"""The record PDF's layout (fpdf2): fonts, character cleaning, headings, facts and tables.

Imported only when a PDF is made (`records/pdf.py`, `billing/pdf.py`): fpdf2 and fontTools
take over a second to import, which every app server process, worker and command would
otherwise pay at start-up.

A Unicode TrueType font is used when the machine has one (DejaVu Sans on Debian);
otherwise the PDF falls back to the built-in Helvetica, which only has Latin-1. Either
way, a character the font cannot draw is replaced (by its plain-letter form, or "?")
rather than dropped silently or crashing the download: names like "Zoë Łukasz 李" print.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import lru_cache
from pathlib import Path

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from fontTools.ttLib import TTFont
from fpdf import FPDF, FontFace

from portal.records.export import Block, Export, Section

# Regular and bold faces, tried in order; the first pair that exists is used.
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
)
# Extra scripts (Chinese, Japanese, Korean) where installed; fpdf2 switches per glyph.
FALLBACK_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttf",
)
FAMILY = "RecordSans"
CORE_FAMILY = "helvetica"
# Plain forms for characters a font may lack and that do not decompose (Ł) or are symbols.
PLAIN = str.maketrans(
    {
        "\u2265": ">=",
        "\u2264": "<=",
        "\u2014": "-",
        "\u2013": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u2022": "*",
        "\u2192": "->",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Ø": "O",
        "ø": "o",
        "Œ": "OE",
        "œ": "oe",
        "\u0131": "i",
    }
)
MAX_CELL_CHARS = 600  # a table row must fit on one page
GREY = (90, 90, 90)

# fpdf2 subsets fonts with fontTools, which logs every step at INFO: noise in the server log.
logging.getLogger("fontTools").setLevel(logging.WARNING)


@lru_cache(maxsize=8)
def _glyphs(path: str) -> frozenset[int]:
    """The code points a font file can draw."""
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def _fonts() -> tuple[tuple[str, str] | None, list[str]]:
    main = next(
        (pair for pair in FONT_CANDIDATES if Path(pair[0]).is_file() and Path(pair[1]).is_file()), None
    )
    extras = [path for path in FALLBACK_CANDIDATES if Path(path).is_file()] if main else []
    return main, extras


class RecordPDF(FPDF):
    """A portrait A4 record with the patient named on every page and "page n of N" below."""

    def __init__(self, export: Export) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.export = export
        self.font_name = CORE_FAMILY
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=20)
        self._drawable = self._load_fonts()
        self.set_title(self.clean(_("Health record of %(name)s") % {"name": export.patient_name}))
        self.set_creator("Patient portal")
        self.set_lang(get_language() or "en")

    def _load_fonts(self) -> frozenset[int] | None:
        main, extras = _fonts()
        if main is None:
            self.font_name = CORE_FAMILY
            return None
        regular, bold = main
        self.add_font(FAMILY, "", regular)
        self.add_font(FAMILY, "B", bold)
        drawable = _glyphs(regular) & _glyphs(bold)
        for number, path in enumerate(extras):
            self.add_font(f"Fallback{number}", "", path)
            drawable |= _glyphs(path)
        if extras:
            self.set_fallback_fonts([f"Fallback{number}" for number in range(len(extras))], exact_match=False)
        self.font_name = FAMILY
        return frozenset(drawable)

    def clean(self, value: str) -> str:
        """`value` with every character this PDF's fonts cannot draw replaced."""
        return "".join(self._drawable_char(char) for char in value)

    def _drawable_char(self, char: str) -> str:
        if char == "\n":
            return char
        if unicodedata.category(char).startswith("C"):
            # Tabs and other control or invisible format characters: fonts have no glyph for them.
            return " " if char == "\t" else ""
        if self._can_draw(char):
            return char
        plain = char.translate(PLAIN)
        if plain != char and all(self._can_draw(part) for part in plain):
            return plain
        base = "".join(
            part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
        )
        if base and all(self._can_draw(part) for part in base):
            return base
        return "?"

    def _can_draw(self, char: str) -> bool:
        if self._drawable is None:
            return 32 <= ord(char) <= 126 or 160 <= ord(char) <= 255
        return ord(char) in self._drawable

    def use_font(self, size: float, bold: bool = False) -> None:
        self.set_font(self.font_name, "B" if bold else "", size)

    # Page furniture ------------------------------------------------------------------------

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.use_font(8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.clean(self.running_title()), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)
        self.set_text_color(0, 0, 0)

    def running_title(self) -> str:
        """What the top of every page but the first says."""
        return _("Health record of %(name)s, clinic number %(number)s") % {
            "name": self.export.patient_name,
            "number": self.export.clinic_number,
        }

    def made_on(self) -> str:
        """The day the document was made, as the footer shows it."""
        return self.export.generated

    def footer(self) -> None:
        self.set_y(-14)
        self.use_font(8)
        self.set_text_color(*GREY)
        made = _("Made on %(when)s") % {"when": self.made_on()}
        self.cell(0, 5, self.clean(made), align="L")
        self.set_x(self.l_margin)
        page = _("Page %(page)s of %(pages)s") % {"page": self.page_no(), "pages": self.str_alias_nb_pages}
        self.cell(0, 5, self.clean(page), align="R")
        self.set_text_color(0, 0, 0)

    # Content -------------------------------------------------------------------------------

    def cover(self) -> None:
        export = self.export
        self.add_page()
        self.use_font(24, bold=True)
        self.multi_cell(0, 12, self.clean(_("Health record")), new_x="LMARGIN", new_y="NEXT")
        self.use_font(16)
        self.multi_cell(0, 9, self.clean(export.patient_name), new_x="LMARGIN", new_y="NEXT")
        self.ln(6)
        self.facts(
            [
                (_("Clinic number"), export.clinic_number),
                (_("Date of birth"), export.birth_date),
                (_("Made on"), export.generated),
                (_("Sections"), ", ".join(export.selection.section_titles())),
                (_("Dates"), export.selection.describe_range()),
            ]
        )
        self.ln(6)
        self.use_font(10)
        self.set_text_color(*GREY)
        notice = _(
            "This document contains confidential health information. Results appear once they are "
            "released to the patient. Keep it safe and share it only with people you trust."
        )
        self.multi_cell(0, 5, self.clean(notice), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)

    def section(self, section: Section) -> None:
        self.add_page()
        self.use_font(18, bold=True)
        self.multi_cell(0, 10, self.clean(section.title), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)
        if not section.blocks:
            self.use_font(10)
            self.set_text_color(*GREY)
            empty = _("Nothing in this section for the dates chosen.")
            self.multi_cell(0, 6, self.clean(empty), new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0, 0, 0)
            return
        if section.note:
            self.use_font(10)
            self.multi_cell(0, 6, self.clean(section.note), new_x="LMARGIN", new_y="NEXT")
            self.ln(2)
        for block in section.blocks:
            self.block(block)

    def block(self, block: Block) -> None:
        if block.heading:
            if self.will_page_break(25):
                self.add_page()
            self.use_font(12, bold=True)
            self.multi_cell(0, 7, self.clean(block.heading), new_x="LMARGIN", new_y="NEXT")
            self.ln(1)
        if block.facts:
            self.facts(block.facts)
        if block.columns and block.rows:
            self.ln(2)
            self.grid(block.columns, block.rows)
        self.ln(5)

    def facts(self, pairs: list[tuple[str, str]]) -> None:
        for label, value in pairs:
            self.fact(self.clean(f"{label}: "), self.clean(value))

    def fact(self, label: str, value: str) -> None:
        self.use_font(10, bold=True)
        label_width = self.get_string_width(label)
        self.use_font(10)
        if "\n" not in value and label_width + self.get_string_width(value) <= self.epw:
            # One line: plain cells skip fpdf2's line breaking, much the slowest part of a long PDF.
            self.use_font(10, bold=True)
            self.cell(label_width, 5.5, label)
            self.use_font(10)
            self.cell(0, 5.5, value, new_x="LMARGIN", new_y="NEXT")
            self.ln(1)
            return
        self.use_font(10, bold=True)
        self.write(5.5, label)
        self.use_font(10)
        self.write(5.5, value)
        self.ln(6.5)

    def grid(self, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        self.use_font(9)
        heading = FontFace(emphasis="BOLD", fill_color=(231, 237, 243))
        with self.table(
            col_widths=_widths(columns, rows),
            headings_style=heading,
            text_align="LEFT",
            line_height=5,
            padding=1.2,
            repeat_headings=1,
        ) as table:
            head = table.row()
            for column in columns:
                head.cell(self.clean(column))
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(self.clean(_clip(value)))


def _clip(value: str) -> str:
    return value if len(value) <= MAX_CELL_CHARS else value[: MAX_CELL_CHARS - 1] + "…"


def _widths(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[float]:
    """Column shares by content length, so a test name gets more room than its flag."""
    weights = []
    for index, column in enumerate(columns):
        longest = max([len(column)] + [len(row[index]) for row in rows[:200]])
        # The floor keeps a short column ("Active", a date) from breaking inside a word.
        weights.append(min(max(longest, 8), 40) + 6)
    return [float(weight) for weight in weights]
