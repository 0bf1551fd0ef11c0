from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from pyzbar import pyzbar

from passes.devcerts import (
    DEV_FILES,
    PASS_TYPE_EKU_OID,
    PASS_TYPE_ID_EXTENSION_OID,
    make_dev_certs,
)
from passes.qr import qr_png, qr_svg


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_dev_certs_writes_exactly_the_expected_files(dev_certs: Path) -> None:
    assert sorted(p.name for p in dev_certs.iterdir()) == sorted(DEV_FILES)


def test_dev_certs_is_idempotent(tmp_path: Path) -> None:
    assert make_dev_certs(tmp_path, pass_type_id="pass.a", team_id="T1") is True
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert make_dev_certs(tmp_path, pass_type_id="pass.a", team_id="T1") is False
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_pass_certificate_has_apples_shape(dev_certs: Path) -> None:
    leaf = _cert(dev_certs / "pass-cert.pem")
    wwdr = _cert(dev_certs / "wwdr.pem")
    root = _cert(dev_certs / "apple-root.pem")
    subject = {a.oid: a.value for a in leaf.subject}
    assert subject[NameOID.USER_ID] == "pass.test.loyalty.wallet"
    assert subject[NameOID.COMMON_NAME] == "Pass Type ID: pass.test.loyalty.wallet"
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == "TESTTEAM42"
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert PASS_TYPE_EKU_OID in list(eku)
    ext = leaf.extensions.get_extension_for_oid(PASS_TYPE_ID_EXTENSION_OID).value
    assert isinstance(ext, x509.UnrecognizedExtension)
    assert ext.value.endswith(b"pass.test.loyalty.wallet")
    leaf.verify_directly_issued_by(wwdr)
    wwdr.verify_directly_issued_by(root)
    assert wwdr.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_server_certificate_serves_localhost(dev_certs: Path) -> None:
    server = _cert(dev_certs / "server-cert.pem")
    server.verify_directly_issued_by(_cert(dev_certs / "apple-root.pem"))
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in list(eku)


def test_google_key_is_in_googles_json_format(dev_certs: Path) -> None:
    info = json.loads((dev_certs / "google-service-account.json").read_text())
    for key in ("type", "project_id", "private_key_id", "private_key", "client_email",
                "client_id", "token_uri"):  # fmt: skip
        assert info[key], key
    assert info["type"] == "service_account"
    assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    # google-auth, the library the service uses for REST calls, accepts it.
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_info(info)
    assert creds.service_account_email == info["client_email"]


def test_private_keys_are_not_world_readable(dev_certs: Path) -> None:
    for name in ("pass-key.pem", "server-key.pem", "google-service-account.json"):
        assert (dev_certs / name).stat().st_mode & 0o077 == 0, name


def test_dev_certs_command_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "passes",
            "dev-certs",
            str(tmp_path / "pki"),
            "--pass-type-id",
            "pass.cli.test",
            "--team-id",
            "CLITEAM",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in result.stdout
    leaf = _cert(tmp_path / "pki" / "pass-cert.pem")
    assert leaf.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "pass.cli.test"


@pytest.mark.parametrize("scale", [4, 10])
@pytest.mark.parametrize("number", ["2000000000428", "0000000000001", "7700123456789012"])
def test_qr_png_decodes_back_to_the_exact_card_number(number: str, scale: int) -> None:
    image = Image.open(io.BytesIO(qr_png(number, scale=scale)))
    decoded = pyzbar.decode(image)
    assert [d.data.decode() for d in decoded] == [number]
    assert decoded[0].type == "QRCODE"


def test_qr_png_is_sized_for_a_phone_screen() -> None:
    image = Image.open(io.BytesIO(qr_png("2000000000428")))
    assert image.format == "PNG"
    assert 250 <= image.width <= 450 and image.width == image.height


def test_qr_svg_is_a_scalable_image() -> None:
    svg = qr_svg("2000000000428")
    assert svg.lstrip().startswith(("<?xml", "<svg"))
    assert "<path" in svg and "viewBox" in svg
