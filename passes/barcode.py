"""The card number as the till's barcode, in the format the program chose: QR (the
default), Code 128 (for linear scanners, which cannot read a QR) or PDF417.

The symbols are encoded by libraries (``qrcode``, ``python-barcode``, ``pdf417gen``); this
module only draws their modules, as a compact SVG (one path, each row's dark runs merged,
crisp at any size) or a PNG, and names the format the way Apple and Google do.
"""

from __future__ import annotations

import io
from typing import Literal

import barcode as python_barcode
import pdf417gen
import qrcode
from PIL import Image, ImageDraw
from qrcode.constants import ERROR_CORRECT_M

Kind = Literal["QR", "CODE_128", "PDF417"]
KINDS: tuple[Kind, ...] = ("QR", "CODE_128", "PDF417")

# Apple Watch shows QR, PDF417 and Aztec but not Code 128 (Apple's Wallet Developer
# Guide, revision of 2017-03-14), and Wallet shows the first format of `barcodes` the
# device supports: a Code 128 card carries a QR after it for the watch.
AppleFormat = Literal["PKBarcodeFormatQR", "PKBarcodeFormatPDF417", "PKBarcodeFormatCode128"]
APPLE_FORMATS: dict[Kind, tuple[AppleFormat, ...]] = {
    "QR": ("PKBarcodeFormatQR",),
    "CODE_128": ("PKBarcodeFormatCode128", "PKBarcodeFormatQR"),
    "PDF417": ("PKBarcodeFormatPDF417",),
}
# Google Wallet's BarcodeType names.
GoogleType = Literal["QR_CODE", "CODE_128", "PDF_417"]
GOOGLE_TYPES: dict[Kind, GoogleType] = {
    "QR": "QR_CODE",
    "CODE_128": "CODE_128",
    "PDF417": "PDF_417",
}

# Quiet zones, in modules: QR needs 4, a linear code 10 (ISO/IEC 15417), PDF417 2.
_CODE128_QUIET = 10
_PDF417_QUIET = 2
# PDF417 rows are three modules high (the usual 1:3 ratio); 3 data columns keep a 16-digit
# number about as wide as a Code 128 of it.
_PDF417_ROW = 3
_PDF417_COLUMNS = 3


class Symbol:
    """A barcode as rows of modules ("1" dark), each row ``row_height`` modules high."""

    def __init__(self, rows: list[str], row_height: int) -> None:
        self.rows = rows
        self.row_height = row_height
        self.width = len(rows[0])
        self.height = len(rows) * row_height


def symbol(text: str, kind: Kind) -> Symbol:
    if not text:
        raise ValueError("empty barcode text")
    if kind == "QR":
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
        code.add_data(text)
        code.make(fit=True)
        return Symbol(["".join("1" if m else "0" for m in row) for row in code.get_matrix()], 1)
    if kind == "CODE_128":
        [bars] = python_barcode.get("code128", text).build()
        quiet = "0" * _CODE128_QUIET
        row = quiet + bars + quiet
        # A linear code is at least 15% as high as it is wide; a bit more is easier to aim.
        return Symbol([row], max(24, len(row) // 4))
    if kind == "PDF417":
        codes = pdf417gen.encode(text, columns=_PDF417_COLUMNS, security_level=2)
        width, height = pdf417gen.rendering.barcode_size(codes)
        grid = [["0"] * width for _ in range(height)]
        for x, y in pdf417gen.rendering.modules(codes):
            grid[y][x] = "1"
        pad = "0" * _PDF417_QUIET
        blank = "0" * (width + 2 * _PDF417_QUIET)
        rows = [pad + "".join(row) + pad for row in grid]
        # The quiet zone above and below, in whole rows of this symbol's row height.
        return Symbol([blank, *rows, blank], _PDF417_ROW)
    raise ValueError(f"unknown barcode kind {kind!r}")


def svg(text: str, kind: Kind, *, css_class: str = "barcode") -> str:
    """An inline SVG of ``text``: white background, black modules, scaled by CSS."""
    found = symbol(text, kind)
    parts: list[str] = []
    for index, row in enumerate(found.rows):
        y = index * found.row_height
        x = 0
        while x < found.width:
            if row[x] == "1":
                start = x
                while x < found.width and row[x] == "1":
                    x += 1
                run = x - start
                parts.append(f"M{start} {y}h{run}v{found.row_height}h-{run}z")
            else:
                x += 1
    label = f"{kind} {text}".replace('"', "").replace("<", "").replace("&", "")
    return (
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {found.width} {found.height}" shape-rendering="crispEdges" '
        f'role="img" aria-label="{label}" data-format="{kind}">'
        f'<rect width="{found.width}" height="{found.height}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>'
    )


def png(text: str, kind: Kind, *, scale: int = 4) -> bytes:
    """A black-on-white PNG of ``text``, ``scale`` pixels per module."""
    found = symbol(text, kind)
    image = Image.new("1", (found.width * scale, found.height * scale), 1)
    draw = ImageDraw.Draw(image)
    for index, row in enumerate(found.rows):
        top = index * found.row_height * scale
        bottom = top + found.row_height * scale - 1
        for x, module in enumerate(row):
            if module == "1":
                draw.rectangle((x * scale, top, x * scale + scale - 1, bottom), fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
