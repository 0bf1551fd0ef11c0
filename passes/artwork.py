"""Draw the default pass artwork into templates/pass/ (run once; the PNGs are committed).

    python -m passes.artwork [DIR]

Simple shapes in the default program colours, drawn at 4x and downsampled so the edges are
smooth. A real program puts its own PNGs in `Program.images_dir`, file by file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

GREEN = (31, 78, 61)
MINT = (207, 232, 218)
GOLD = (232, 193, 92)
SUPERSAMPLE = 4

SIZES: dict[str, tuple[int, int]] = {
    "icon.png": (29, 29),
    "icon@2x.png": (58, 58),
    "icon@3x.png": (87, 87),
    "logo.png": (160, 50),
    "logo@2x.png": (320, 100),
    "strip.png": (375, 123),
    "strip@2x.png": (750, 246),
}


def _mark(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    """A coin: a gold disc with a mint ring and a leaf-like notch, the program's mark."""
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=GOLD)
    ring = r * 0.72
    draw.ellipse((cx - ring, cy - ring, cx + ring, cy + ring), outline=GREEN, width=int(r * 0.12))
    leaf = r * 0.38
    draw.polygon(
        [(cx, cy - leaf), (cx + leaf * 0.8, cy), (cx, cy + leaf), (cx - leaf * 0.8, cy)],
        fill=GREEN,
    )


def icon(size: tuple[int, int]) -> Image.Image:
    w, h = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    img = Image.new("RGBA", (w, h), (*GREEN, 255))
    _mark(ImageDraw.Draw(img), w / 2, h / 2, w * 0.38)
    return img.resize(size, Image.Resampling.LANCZOS)


def logo(size: tuple[int, int]) -> Image.Image:
    w, h = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    _mark(draw, h / 2, h / 2, h * 0.4)
    # Three bars of a stylised receipt next to the coin; the program name is logoText.
    x0 = h * 1.05
    for i, length in enumerate((0.95, 0.7, 0.45)):
        y = h * (0.3 + i * 0.2)
        draw.rounded_rectangle(
            (x0, y - h * 0.05, x0 + h * length, y + h * 0.05), radius=h * 0.05, fill=MINT
        )
    return img.resize(size, Image.Resampling.LANCZOS)


def strip(size: tuple[int, int]) -> Image.Image:
    w, h = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    img = Image.new("RGBA", (w, h), (*GREEN, 255))
    draw = ImageDraw.Draw(img)
    # A vertical gradient towards a lighter green, then soft coins in the right third.
    for y in range(h):
        t = y / h
        colour = tuple(int(GREEN[i] + (MINT[i] - GREEN[i]) * 0.18 * t) for i in range(3))
        draw.line([(0, y), (w, y)], fill=(*colour, 255))
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    odraw = ImageDraw.Draw(overlay)
    for cx, cy, r, alpha in ((0.78, 0.55, 0.42, 40), (0.9, 0.25, 0.25, 60), (0.66, 0.2, 0.14, 50)):
        odraw.ellipse(
            (w * cx - h * r, h * cy - h * r, w * cx + h * r, h * cy + h * r),
            fill=(*GOLD, alpha),
        )
    img = Image.alpha_composite(img, overlay)
    return img.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def draw_all(target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, size in SIZES.items():
        maker = icon if name.startswith("icon") else logo if name.startswith("logo") else strip
        path = target / name
        maker(size).save(path, format="PNG", optimize=True)
        written.append(path)
    return written


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "templates" / "pass"
    for p in draw_all(Path(sys.argv[1]) if len(sys.argv) > 1 else default):
        print(p)
