from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from passes.apple import PassSigner, PassValidationError, build_pkpass
from passes.card import AppleSettings, CardState, Program

REQUIRED = {
    "pass.json",
    "manifest.json",
    "signature",
    "icon.png",
    "icon@2x.png",
    "icon@3x.png",
    "logo.png",
    "logo@2x.png",
    "strip.png",
    "strip@2x.png",
    "ru.lproj/pass.strings",
    "en.lproj/pass.strings",
}

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")


def unpack(pkpass: bytes, folder: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as zf:
        assert zf.testzip() is None
        files = {name: zf.read(name) for name in zf.namelist()}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def openssl_verify(folder: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(folder / "signature"),
            "-content",
            str(folder / "manifest.json"),
            "-CAfile",
            str(root),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def pkpass(state: CardState, program: Program, apple: AppleSettings, signer: PassSigner) -> bytes:
    return build_pkpass(state, program, apple, "a" * 32, signer)


def test_pkpass_unzips_to_the_required_files(pkpass: bytes, tmp_path: Path) -> None:
    files = unpack(pkpass, tmp_path)
    assert set(files) == REQUIRED


def test_manifest_holds_the_sha1_of_every_other_file(pkpass: bytes, tmp_path: Path) -> None:
    files = unpack(pkpass, tmp_path)
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == REQUIRED - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name


def test_pngs_are_stored_and_text_files_deflated(pkpass: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as zf:
        for info in zf.infolist():
            if info.filename.endswith(".png"):
                assert info.compress_type == zipfile.ZIP_STORED, info.filename
            elif info.filename.endswith((".json", ".strings")):
                assert info.compress_type == zipfile.ZIP_DEFLATED, info.filename


@needs_openssl
def test_signature_verifies_with_openssl_against_the_dev_root(
    pkpass: bytes, tmp_path: Path, dev_certs: Path
) -> None:
    unpack(pkpass, tmp_path)
    result = openssl_verify(tmp_path, dev_certs / "apple-root.pem")
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


@needs_openssl
def test_one_changed_byte_of_pass_json_breaks_the_pass(
    pkpass: bytes, tmp_path: Path, dev_certs: Path
) -> None:
    files = unpack(pkpass, tmp_path)
    tampered = bytearray(files["pass.json"])
    index = tampered.index(b'"balance"') + len(b'"balance","value":')
    tampered[index] = ord("9") if tampered[index] != ord("9") else ord("8")
    manifest = json.loads(files["manifest.json"])
    # As shipped, the manifest no longer matches pass.json ...
    assert hashlib.sha1(bytes(tampered)).hexdigest() != manifest["pass.json"]
    # ... and a manifest rewritten to match no longer matches the signature.
    manifest["pass.json"] = hashlib.sha1(bytes(tampered)).hexdigest()
    (tmp_path / "manifest.json").write_bytes(json.dumps(manifest).encode())
    result = openssl_verify(tmp_path, dev_certs / "apple-root.pem")
    assert result.returncode != 0


@needs_openssl
def test_signature_has_signing_time_and_sha256_signer_digest(pkpass: bytes, tmp_path: Path) -> None:
    unpack(pkpass, tmp_path)
    printed = subprocess.run(
        [
            "openssl",
            "cms",
            "-cmsout",
            "-print",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signature"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "signingTime" in printed
    assert "messageDigest" in printed
    # NoCapabilities: no S/MIME capabilities, which only mail clients read.
    assert "SMIMECapabilities" not in printed
    signer_info = printed[printed.index("signerInfos:") :]
    assert re.search(r"digestAlgorithm:\s+algorithm: sha256", signer_info)
    # Detached: the manifest is not inside the signature.
    assert "eContent: <ABSENT>" in printed


def test_signature_embeds_the_leaf_and_the_wwdr_intermediate(
    pkpass: bytes, dev_certs: Path
) -> None:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as zf:
        signature = zf.read("signature")
    embedded = pkcs7.load_der_pkcs7_certificates(signature)
    leaf = x509.load_pem_x509_certificate((dev_certs / "pass-cert.pem").read_bytes())
    wwdr = x509.load_pem_x509_certificate((dev_certs / "wwdr.pem").read_bytes())
    assert sorted(c.fingerprint(SHA256()) for c in embedded) == sorted(
        [leaf.fingerprint(SHA256()), wwdr.fingerprint(SHA256())]
    )


def test_pass_identifiers_match_the_certificate(pkpass: bytes, dev_certs: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as zf:
        pass_json = json.loads(zf.read("pass.json"))
    leaf = x509.load_pem_x509_certificate((dev_certs / "pass-cert.pem").read_bytes())
    uid = leaf.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value
    team = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert pass_json["passTypeIdentifier"] == uid
    assert pass_json["teamIdentifier"] == team


def test_a_pass_for_another_pass_type_id_is_refused(
    state: CardState, program: Program, signer: PassSigner
) -> None:
    other = AppleSettings(pass_type_id="pass.other.app", team_id="TESTTEAM42", web_service_url=None)
    with pytest.raises(PassValidationError, match="passTypeIdentifier"):
        build_pkpass(state, program, other, "a" * 32, signer)


def test_wrong_key_for_the_certificate_is_refused(dev_certs: Path, tmp_path: Path) -> None:
    with pytest.raises(PassValidationError, match="does not match"):
        PassSigner.from_files(
            dev_certs / "pass-cert.pem", dev_certs / "server-key.pem", dev_certs / "wwdr.pem"
        )


def test_every_pass_gets_its_own_serial_and_shares_the_artwork(
    make_state: Callable[..., CardState],
    program: Program,
    apple: AppleSettings,
    signer: PassSigner,
) -> None:
    a = build_pkpass(make_state(serial_number="s-1"), program, apple, "a" * 32, signer)
    b = build_pkpass(make_state(serial_number="s-2"), program, apple, "b" * 32, signer)
    with zipfile.ZipFile(io.BytesIO(a)) as za, zipfile.ZipFile(io.BytesIO(b)) as zb:
        assert json.loads(za.read("pass.json"))["serialNumber"] == "s-1"
        assert json.loads(zb.read("pass.json"))["serialNumber"] == "s-2"
        assert za.read("icon.png") == zb.read("icon.png")


def test_program_images_override_the_default_artwork(
    state: CardState, program: Program, apple: AppleSettings, signer: PassSigner, tmp_path: Path
) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (29, 29), (200, 0, 0)).save(buf, format="PNG")
    (tmp_path / "icon.png").write_bytes(buf.getvalue())
    custom = msgspec.structs.replace(program, images_dir=tmp_path)
    pkpass = build_pkpass(state, custom, apple, "a" * 32, signer)
    with zipfile.ZipFile(io.BytesIO(pkpass)) as zf:
        assert zf.read("icon.png") == buf.getvalue()
        assert "strip.png" in zf.namelist()  # the rest still comes from templates/pass
