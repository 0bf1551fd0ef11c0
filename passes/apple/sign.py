"""The `signature` file: a detached PKCS#7 (CMS) SignedData over manifest.json.

Apple's requirements: DER, signed by the Pass Type ID certificate, the WWDR intermediate
included, a signing-time attribute present. cryptography 50 refuses SHA-1 as the signer
digest, and Wallet accepts SHA-256, so that is what we use (the manifest stays SHA-1).

Everything is loaded once: parsing a PEM key costs more than the RSA signature itself.

Why a hand-made DER assembler for RSA keys: one RSA-2048 signature (~280 us on the 2-core
dev box) is the floor of a pass. In a tight loop `PKCS7SignatureBuilder` is as fast as a bare
`private_key.sign()`, but between pass builds it took 300-340 us: each call re-serialises
both certificates, re-encodes the attributes and adds S/MIME capabilities nobody reads.
With the certificates, issuer and algorithm identifiers encoded once, a pass costs one
SHA-256, ~120 bytes of signed attributes and one `sign()`, which put the build rate back
above 60% of `openssl speed rsa2048`. The output is the same SignedData shape (RFC 5652):
detached, DER, signer = Pass Type ID certificate, WWDR included, signed attributes
contentType + signingTime + messageDigest; tests verify it with `openssl cms -verify`.
EC keys, which Apple does not issue for passes, go through `PKCS7SignatureBuilder`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from passes.apple.model import PassValidationError

# NoCapabilities: the S/MIME capabilities attribute is for mail clients; Wallet reads none.
_OPTIONS = [
    pkcs7.PKCS7Options.DetachedSignature,
    pkcs7.PKCS7Options.Binary,
    pkcs7.PKCS7Options.NoCapabilities,
]


class PassSigner:
    """Signs manifests with one Pass Type ID certificate; build it once per process."""

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        wwdr: x509.Certificate,
    ) -> None:
        if _spki(certificate.public_key()) != _spki(private_key.public_key()):
            raise PassValidationError("the pass key does not match the Pass Type ID certificate")
        if certificate.issuer != wwdr.subject:
            raise PassValidationError(
                "the Pass Type ID certificate was not issued by the given WWDR certificate "
                f"(issuer {certificate.issuer.rfc4514_string()!r}, "
                f"WWDR {wwdr.subject.rfc4514_string()!r}); download the matching WWDR generation"
            )
        self.certificate = certificate
        self.wwdr = wwdr
        self._key = private_key
        self.pass_type_id = _attribute(certificate, NameOID.USER_ID)
        self.team_id = _attribute(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME)
        self._der = (
            _SignedDataTemplate(certificate, wwdr)
            if isinstance(private_key, rsa.RSAPrivateKey)
            else None
        )

    @classmethod
    def from_files(
        cls,
        cert_pem: Path,
        key_pem: Path,
        wwdr_pem: Path,
        key_password: bytes | None = None,
    ) -> PassSigner:
        # The password arrives as bytes from settings, never through argv or a subprocess.
        certificate = _load_cert(Path(cert_pem))
        wwdr = _load_cert(Path(wwdr_pem))
        key = serialization.load_pem_private_key(Path(key_pem).read_bytes(), key_password)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise PassValidationError(f"{key_pem}: the pass key must be RSA or EC")
        return cls(certificate, key, wwdr)

    def sign(self, manifest: bytes, *, signing_time: datetime | None = None) -> bytes:
        """Detached CMS SignedData over `manifest`, DER, signer + WWDR certificates inside."""
        when = signing_time or datetime.now(UTC)
        if self._der is not None and isinstance(self._key, rsa.RSAPrivateKey):
            attrs = self._der.signed_attributes(hashlib.sha256(manifest).digest(), when)
            signature = self._key.sign(attrs, padding.PKCS1v15(), hashes.SHA256())
            return self._der.assemble(attrs, signature)
        return self.sign_with_builder(manifest)

    def sign_with_builder(self, manifest: bytes) -> bytes:
        """The same signature through cryptography's PKCS7SignatureBuilder (reference path)."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.certificate, self._key, hashes.SHA256())
            .add_certificate(self.wwdr)
            .sign(serialization.Encoding.DER, _OPTIONS)
        )


# DER, just enough of it. Every length is known once the certificates are: only the time,
# the digest and the signature change from one pass to the next.
_OID_DATA = bytes.fromhex("06092a864886f70d010701")
_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_OID_CONTENT_TYPE = bytes.fromhex("06092a864886f70d010903")
_OID_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")
_OID_SIGNING_TIME = bytes.fromhex("06092a864886f70d010905")
_ALG_SHA256 = bytes.fromhex("300d06096086480165030402010500")
_ALG_RSA = bytes.fromhex("300d06092a864886f70d0101010500")


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=False))


def _time(moment: datetime) -> bytes:
    t = moment.astimezone(UTC)
    # RFC 5652 11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    if 1950 <= t.year < 2050:
        return _tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, t.strftime("%Y%m%d%H%M%SZ").encode())


class _SignedDataTemplate:
    def __init__(self, certificate: x509.Certificate, wwdr: x509.Certificate) -> None:
        ders: list[bytes] = [
            c.public_bytes(serialization.Encoding.DER) for c in (certificate, wwdr)
        ]
        # DER wants a SET OF in the order of its encodings (X.690 11.6), shorter ones padded.
        width = max(map(len, ders))
        ordered: list[bytes] = sorted(ders, key=lambda der: der.ljust(width, b"\0"))
        certs = b"".join(ordered)
        self._head = (
            _integer(1)
            + _tlv(0x31, _ALG_SHA256)
            + _tlv(0x30, _OID_DATA)  # detached: eContentType only, no eContent
            + _tlv(0xA0, certs)
        )
        self._signer_head = (
            _integer(1)
            + _tlv(0x30, certificate.issuer.public_bytes() + _integer(certificate.serial_number))
            + _ALG_SHA256
        )
        self._content_type_attr = _tlv(0x30, _OID_CONTENT_TYPE + _tlv(0x31, _OID_DATA))

    def signed_attributes(self, digest: bytes, when: datetime) -> bytes:
        """The SET OF attributes as signed (tag 0x31), in DER order (sorted by encoding)."""
        return _tlv(
            0x31,
            self._content_type_attr
            + _tlv(0x30, _OID_SIGNING_TIME + _tlv(0x31, _time(when)))
            + _tlv(0x30, _OID_MESSAGE_DIGEST + _tlv(0x31, _tlv(0x04, digest))),
        )

    def assemble(self, signed_attributes: bytes, signature: bytes) -> bytes:
        # In SignerInfo the attributes are [0] IMPLICIT: same bytes, tag 0xA0 instead of 0x31.
        signer_info = _tlv(
            0x30,
            self._signer_head + b"\xa0" + signed_attributes[1:] + _ALG_RSA + _tlv(0x04, signature),
        )
        signed_data = _tlv(0x30, self._head + _tlv(0x31, signer_info))
        return _tlv(0x30, _OID_SIGNED_DATA + _tlv(0xA0, signed_data))


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_cert(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    # Apple hands out the WWDR certificate as DER (.cer).
    return x509.load_der_x509_certificate(data)


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None
