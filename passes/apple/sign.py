"""The `signature` file: a detached PKCS#7 (CMS) SignedData over manifest.json.

Apple's requirements: DER, signed by the Pass Type ID certificate, the WWDR intermediate
included, a signing-time attribute present. cryptography 50 refuses SHA-1 as the signer
digest, and Wallet accepts SHA-256, so that is what we use (the manifest stays SHA-1).
`PKCS7SignatureBuilder` writes the signed attributes contentType, signingTime and
messageDigest; NoCapabilities leaves out the S/MIME capabilities, which only mail clients
read (tests check the attributes and verify with `openssl cms -verify`).

Everything is loaded once: parsing a PEM key costs more than the RSA signature itself.

Why the builder and not a hand-made DER assembler (which this module held until issue 12):
the rule was to keep hand-written DER only if the builder built passes under 60% of
`openssl speed rsa2048` (one core). `bench/bench_passes.py --rounds 7`, both signers in
alternating rounds on one core of the 2-core dev box (2026-11-30, load 1.3): openssl 4,825
signs/s; hand-written DER 3,481 .pkpass/s (72%), the builder 3,241 .pkpass/s (67%). The
builder is above the line, so the hand-written DER (about 90 lines) went and a trusted
library signs. The price is the builder re-encoding both certificates per pass: quiet,
and per CPU second under load, it built 0.89-0.93 as many passes as the hand-written code;
at load 7-11 (other developers' tests) the per-CPU-second rates were 66% and 59%.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
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

    def sign(self, manifest: bytes) -> bytes:
        """Detached CMS SignedData over `manifest`, DER, signer + WWDR certificates inside."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.certificate, self._key, hashes.SHA256())
            .add_certificate(self.wwdr)
            .sign(serialization.Encoding.DER, _OPTIONS)
        )


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
