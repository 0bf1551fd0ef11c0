"""The card's till barcode in each format the program may choose (QR, Code 128, PDF417):
drawn images decode, with real decoders, to the card number; the Apple pass names the
format (with a QR after a Code 128 for Apple Watch) and the Google object a type Google's
schema knows."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import msgspec
import pytest
import zxingcpp
from PIL import Image
from pyzbar import pyzbar

from passes import barcode
from passes.apple import PassSigner, build_pkpass
from passes.card import AppleSettings, CardState, Program
from passes.google import GoogleSettings, loyalty_object
from tests.support.google_schema import assert_valid

NUMBER = "7745417158516394"
ZXING_FORMAT = {
    "QR": zxingcpp.BarcodeFormat.QRCode,
    "CODE_128": zxingcpp.BarcodeFormat.Code128,
    "PDF417": zxingcpp.BarcodeFormat.PDF417,
}
APPLE_TO_KIND: dict[str, barcode.Kind] = {
    "PKBarcodeFormatQR": "QR",
    "PKBarcodeFormatCode128": "CODE_128",
    "PKBarcodeFormatPDF417": "PDF417",
}


def zxing_reads(png: bytes) -> list[tuple[object, str]]:
    return [(r.format, r.text) for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.mark.parametrize("kind", barcode.KINDS)
def test_each_format_decodes_to_the_card_number_with_zxing(kind: barcode.Kind) -> None:
    assert zxing_reads(barcode.png(NUMBER, kind)) == [(ZXING_FORMAT[kind], NUMBER)]


@pytest.mark.parametrize(("kind", "zbar_name"), [("QR", "QRCODE"), ("CODE_128", "CODE128")])
def test_zbar_reads_the_qr_and_the_code_128_too(kind: barcode.Kind, zbar_name: str) -> None:
    [found] = pyzbar.decode(Image.open(io.BytesIO(barcode.png(NUMBER, kind))))
    assert (found.type, found.data.decode()) == (zbar_name, NUMBER)


@pytest.mark.parametrize("kind", barcode.KINDS)
def test_the_svg_draws_the_same_symbol_as_the_png(kind: barcode.Kind) -> None:
    drawn = barcode.svg(NUMBER, kind)
    found = barcode.symbol(NUMBER, kind)
    assert f'viewBox="0 0 {found.width} {found.height}"' in drawn
    assert f'data-format="{kind}"' in drawn
    # One dark run per path segment: as many as the symbol's rows hold.
    runs = sum(len([r for r in row.split("0") if r]) for row in found.rows)
    assert drawn.count("z") == runs


def test_a_linear_code_keeps_its_quiet_zone_and_height() -> None:
    found = barcode.symbol(NUMBER, "CODE_128")
    [row] = found.rows
    assert row.startswith("0" * 10) and row.endswith("0" * 10)
    assert found.height >= 0.15 * found.width


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError):
        barcode.symbol("", "QR")


def _pass_json(pkpass: bytes) -> dict[str, object]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as bundle:
        return json.loads(bundle.read("pass.json"))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("kind", "formats"),
    [
        ("QR", ["PKBarcodeFormatQR"]),
        # Apple Watch cannot show Code 128: it shows the QR that follows.
        ("CODE_128", ["PKBarcodeFormatCode128", "PKBarcodeFormatQR"]),
        ("PDF417", ["PKBarcodeFormatPDF417"]),
    ],
)
def test_the_apple_pass_carries_the_chosen_format_with_a_watch_fallback(
    kind: barcode.Kind,
    formats: list[str],
    make_state: Callable[..., CardState],
    program: Program,
    apple: AppleSettings,
    signer: PassSigner,
) -> None:
    chosen = msgspec.structs.replace(program, barcode=kind)
    shown = _pass_json(
        build_pkpass(make_state(card_number=NUMBER), chosen, apple, "a" * 32, signer)
    )
    barcodes = shown["barcodes"]
    assert isinstance(barcodes, list)
    assert [b["format"] for b in barcodes] == formats
    assert "barcode" not in shown  # the deprecated single key
    for entry in barcodes:
        assert entry["message"] == NUMBER and entry["altText"] == NUMBER
        assert entry["messageEncoding"] == "iso-8859-1"
        # What Wallet would draw from the entry reads back as the card number.
        drawn = barcode.png(entry["message"], APPLE_TO_KIND[entry["format"]])
        assert [text for _, text in zxing_reads(drawn)] == [NUMBER]


@pytest.mark.parametrize(
    ("kind", "google_type"), [("QR", "QR_CODE"), ("CODE_128", "CODE_128"), ("PDF417", "PDF_417")]
)
def test_the_google_object_carries_the_chosen_type_googles_schema_knows(
    kind: barcode.Kind,
    google_type: str,
    make_state: Callable[..., CardState],
    program: Program,
    google: GoogleSettings,
) -> None:
    chosen = msgspec.structs.replace(program, barcode=kind)
    body = loyalty_object(make_state(card_number=NUMBER), chosen, google)
    assert body["barcode"] == {"type": google_type, "value": NUMBER, "alternateText": NUMBER}
    assert_valid("LoyaltyObject", body)


def test_a_program_names_only_a_known_format(program: Program) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**msgspec.structs.asdict(program), "barcode": "EAN_13"}, Program)
