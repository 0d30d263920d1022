"""A corpus of hostile uploads, made by code so every byte is explained here.

Each file is what an attacker (or an unlucky phone) sends: a file that is two formats at
once, markup dressed as a document, a PDF that runs script, decompression bombs, script
hidden in image metadata, and names built to escape a directory or fool a reader.
`python -m portal.security_tests.crafted_files DIR` writes them out (the copies in
`corpus/` were made that way) for trying by hand; the tests build them in memory.
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image

SCRIPT = b"<script>alert(1)</script>"


@dataclass(frozen=True)
class Crafted:
    """One hostile upload: its name, its bytes, the content type the sender claims, and
    whether a careful server may keep it (after checking and re-encoding)."""

    key: str
    name: str
    content: bytes
    content_type: str
    acceptable: bool = False


def png(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_script_in_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = SCRIPT.decode()  # ImageDescription
    exif[0x013B] = "<img src=x onerror=alert(1)>"  # Artist
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 120, 200)).save(out, "JPEG", exif=exif, comment=SCRIPT)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_huge_dimensions() -> bytes:
    """A valid PNG header declaring 100,000 by 100,000 pixels (40 GB decoded) with one row of data."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" + b"\x00" * 3 * 100_000)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def gif_javascript_polyglot() -> bytes:
    """A GIF that is also a script: `GIF89a` parses as an identifier, the comment hides the
    header's bytes, and `=alert(1)` runs if a page ever loads it with <script src>."""
    return b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/=alert(1);//" + b"\x00" * 16 + b";"


def svg_with_script() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b"<script>alert(1)</script><rect width='8' height='8'/></svg>"
    )


def html_page() -> bytes:
    return b"<!doctype html><html><body>" + SCRIPT + b"<img src=x onerror=alert(1)></body></html>"


def _pdf(*objects: bytes) -> bytes:
    body = b"%PDF-1.7\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return body


def pdf_with_javascript() -> bytes:
    return _pdf(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
    )


def pdf_with_hidden_javascript() -> bytes:
    """The script's name spelt with `#` escapes inside a compressed object stream."""
    hidden = zlib.compress(b"<< /S /Java#53cript /JS (app.alert\\(1\\)) >>")
    return _pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(hidden) + hidden + b"\nendstream",
    )


@cache
def _zeros_deflated(megabytes: int) -> bytes:
    compressor = zlib.compressobj(9)
    block = b"\x00" * (1024 * 1024)
    return b"".join(compressor.compress(block) for _ in range(megabytes)) + compressor.flush()


def pdf_deflate_bomb() -> bytes:
    """A PDF whose one stream inflates to 80 MB of zeros from about 80 kB."""
    bomb = _zeros_deflated(80)
    return _pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream",
    )


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("zeros.bin", b"\x00" * (32 * 1024 * 1024))
    return out.getvalue()


def plain_pdf() -> bytes:
    return _pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
    )


@cache
def corpus() -> tuple[Crafted, ...]:
    image = png()
    return (
        Crafted("gif-js-polyglot", "photo.gif", gif_javascript_polyglot(), "image/gif"),
        Crafted("svg-script", "chart.svg", svg_with_script(), "image/svg+xml"),
        Crafted("svg-as-png", "chart.png", svg_with_script(), "image/png"),
        Crafted("html-as-pdf", "letter.pdf", html_page(), "application/pdf"),
        Crafted("html-as-png", "photo.png", html_page(), "image/png"),
        Crafted("pdf-javascript", "form.pdf", pdf_with_javascript(), "application/pdf"),
        Crafted("pdf-hidden-javascript", "scan.pdf", pdf_with_hidden_javascript(), "application/pdf"),
        Crafted("pdf-deflate-bomb", "big.pdf", pdf_deflate_bomb(), "application/pdf"),
        Crafted("zip-bomb", "records.zip", zip_bomb(), "application/zip"),
        Crafted("zip-bomb-as-pdf", "records.pdf", zip_bomb(), "application/pdf"),
        Crafted("png-huge-dimensions", "scan.png", png_with_huge_dimensions(), "image/png"),
        Crafted("zero-bytes", "empty.png", b"", "image/png"),
        # Content a careful server may keep: checked, re-encoded, stored under a random name.
        Crafted("jpeg-exif-script", "rash.jpg", jpeg_with_script_in_exif(), "image/jpeg", acceptable=True),
        Crafted("path-traversal", "../../x.png", image, "image/png", acceptable=True),
        Crafted("rtl-override", "photo\u202egnp.exe", image, "image/png", acceptable=True),
        Crafted("nul-in-name", "x.png\x00.html", image, "image/png", acceptable=True),
        Crafted("double-extension", "x.pdf.exe", plain_pdf(), "application/x-msdownload", acceptable=True),
        Crafted("wrong-mime-type", "photo.png", image, "text/html", acceptable=True),
    )


def write_corpus(directory: Path) -> list[Path]:
    """Write every file under a file-system-safe name (its key); the names are the point of
    some files, so they are listed in `names.txt` beside them."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for crafted in corpus():
        path = directory / f"{crafted.key}.bin"
        path.write_bytes(crafted.content)
        written.append(path)
    listing = "".join(f"{c.key}.bin\t{c.name!r}\t{c.content_type}\n" for c in corpus())
    (directory / "names.txt").write_text(listing, encoding="utf-8")
    return written


if __name__ == "__main__":
    write_corpus(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "corpus"))
