"""The record as a PDF: what `records/pdf_document.py` lays out, and when it is too long to.

The layout module, with fpdf2 and fontTools, is imported on the first PDF rather than at
start-up (over a second of every process's start otherwise).
"""

from __future__ import annotations

from portal.records.export import Export

# fpdf2 lays text out in pure Python, about a millisecond a line: past this, a download
# would keep a worker busy for many seconds. Larger selections print from the browser.
MAX_PDF_LINES = 6000


def record_pdf(export: Export) -> bytes:
    """The PDF of an export, as bytes ready to send."""
    from portal.records.pdf_document import RecordPDF  # see the module's docstring

    document = RecordPDF(export)
    document.cover()
    for section in export.sections:
        document.section(section)
    return bytes(document.output())


def too_long_for_pdf(export: Export) -> bool:
    return export.printed_lines > MAX_PDF_LINES


def pdf_filename(export: Export) -> str:
    # A stable, ASCII-only name: the clinic number and the day it was made.
    day = export.generated_on.isoformat()
    return f"health-record-{export.clinic_number}-{day}.pdf"
