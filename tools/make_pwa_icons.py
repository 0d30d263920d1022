"""Draw the installable app's icons: `python tools/make_pwa_icons.py` writes portal/static/pwa/.

The PNGs are committed; run this again only to change the design. The colours are the
stylesheet's (`--brand` and white, portal/static/css/portal.css), and the same cross is
drawn in the SVG so every size looks alike.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = (10, 79, 138)  # --brand: #0a4f8a
WHITE = (255, 255, 255)
OUT = Path(__file__).resolve().parent.parent / "portal" / "static" / "pwa"

# (file name, size in pixels, maskable): a maskable icon fills its square and keeps the
# cross inside the central 80% circle that every launcher's mask leaves visible.
ICONS = [
    ("icon-192.png", 192, False),
    ("icon-512.png", 512, False),
    ("icon-maskable-512.png", 512, True),
    ("apple-touch-icon.png", 180, True),
]

SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">
<rect width="512" height="512" rx="96" fill="#0a4f8a"/>
<path fill="#fff" d="M208 112h96v96h96v96h-96v96h-96v-96h-96v-96h96z"/>
</svg>
"""


def draw(size: int, *, maskable: bool) -> Image.Image:
    image = Image.new("RGB" if maskable else "RGBA", (size, size), BRAND if maskable else (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if not maskable:
        pen.rounded_rectangle((0, 0, size - 1, size - 1), radius=size * 96 // 512, fill=BRAND)
    # The cross: arms 3/16 of the side wide, reaching 9/16 across (smaller when maskable).
    scale = 0.8 if maskable else 1.0
    arm = size * 3 / 16 * scale
    reach = size * 9 / 16 * scale
    middle = size / 2
    pen.rectangle((middle - arm / 2, middle - reach / 2, middle + arm / 2, middle + reach / 2), fill=WHITE)
    pen.rectangle((middle - reach / 2, middle - arm / 2, middle + reach / 2, middle + arm / 2), fill=WHITE)
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in ICONS:
        draw(size, maskable=maskable).save(OUT / name, optimize=True)
    (OUT / "icon.svg").write_text(SVG, encoding="utf-8")


if __name__ == "__main__":
    main()
