"""The card number as a QR code, for the shopper's screen and the till's scanner.

Error correction M survives a cracked screen or glare; the 4-module quiet zone is what
scanners need to find the code. `scale` is pixels per module: the default 10 gives about
330 px for a 13-digit card number, which a phone shows at full width and a till reads from
20-30 cm.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M


def _code(text: str) -> qrcode.QRCode:
    if not text:
        raise ValueError("empty QR text")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code


def qr_png(text: str, *, scale: int = 10) -> bytes:
    """A black-on-white PNG of `text`."""
    code = _code(text)
    code.box_size = scale
    image = code.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def qr_svg(text: str) -> str:
    """A scalable SVG path of `text`, sized in mm by qrcode, with a white background."""
    code = _code(text)
    image = code.make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return str(image.to_string(encoding="unicode"))
