"""Statements' and receipts' page furniture (fpdf2), on the record PDF's layout.

The font set-up, character cleaning and table drawing are the record's
(`records/pdf_document.py::RecordPDF`): a billing document is a `RecordPDF` with its own
page furniture, so names like "Zoë Łukasz" print the same way on a bill as on a record.
Imported only when a PDF is made, like the record's layout (fpdf2 is slow to import).
"""

from __future__ import annotations

from django.utils.translation import get_language
from fpdf import FPDF

from portal.records.pdf_document import CORE_FAMILY, GREY, RecordPDF

MINUS = "\u2212"


class BillingPDF(RecordPDF):
    """A portrait A4 billing document: its title on every later page, "page n of N" below."""

    def __init__(self, title: str, made: str) -> None:
        # Not RecordPDF's own __init__, which wants a record export: its font set-up is called below.
        FPDF.__init__(self, orientation="portrait", unit="mm", format="A4")
        self.document_title = title
        self.made = made
        self.font_name = CORE_FAMILY
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=20)
        self._drawable = self._load_fonts()
        self.set_title(self.clean(title))
        self.set_creator("Patient portal")
        self.set_lang(get_language() or "en")

    def clean(self, value: str) -> str:
        # A credit's true minus sign, where the font lacks it, is a hyphen rather than "?".
        if not self._can_draw(MINUS):
            value = value.replace(MINUS, "-")
        return super().clean(value)

    def running_title(self) -> str:
        return self.document_title

    def made_on(self) -> str:
        return self.made

    def title_block(self, title: str, subtitle: str) -> None:
        self.add_page()
        self.use_font(22, bold=True)
        self.multi_cell(0, 11, self.clean(title), new_x="LMARGIN", new_y="NEXT")
        self.use_font(13)
        self.multi_cell(0, 8, self.clean(subtitle), new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def heading(self, text: str) -> None:
        if self.will_page_break(25):
            self.add_page()
        self.ln(3)
        self.use_font(13, bold=True)
        self.multi_cell(0, 7, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def note(self, text: str) -> None:
        self.ln(3)
        self.use_font(10)
        self.set_text_color(*GREY)
        self.multi_cell(0, 5, self.clean(text), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
