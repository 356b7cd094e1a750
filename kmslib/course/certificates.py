"""Lesson 11 (certificates and revocation): a small PKI for the notebook, and a relying party that skips status.

- :func:`certificate_world`: a custodian on the classroom clock with a root CA, an issuing CA certified by it,
  and a signing key ``invoices`` certified by the issuing CA, each key the custodian's;
- :func:`ocsp_request`: the DER OCSP request (RFC 6960 §4.1) a relying party sends about a certificate;
- :func:`naive_relying_party`: a relying party that builds the chain and checks the signature, and asks no
  one whether the certificate was revoked (the mistake exercise 4 breaks, then fixes);
- :func:`certificate_lab`: a fresh world for exercise 4, with a signature made before anything happens.

Sources: RFC 5280 (certificates and CRLs), RFC 6960 (OCSP).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509 import verification as v

from kmslib.clock import ClassroomClock, classroom_clock
from kmslib.custodian import KeyCustodian
from kmslib.errors import InvalidInputError, KMSError
from kmslib.pki import CertificateAuthority
from kmslib.signing import verify_signature

__all__ = ["CertificateWorld", "certificate_lab", "certificate_world", "naive_relying_party", "ocsp_request"]


@dataclass
class CertificateWorld:
    """A custodian, its two CAs and a certified signer, as :func:`certificate_world` makes them.

    Attributes:
        kms: the custodian (classroom clock) holding every key.
        root: the root CA (key ``root``): the relying parties' trust anchor.
        ca: the issuing CA (key ``issuing``), certified by the root.
        signer: the id of the certified signing key.
        certificate: the signer's certificate, PEM.
        message: a message the signer signed, and ``signature`` its signature token.
        clock: the custodian's classroom clock (``clock.advance(timedelta(days=1))`` moves the story on).
    """

    kms: KeyCustodian
    root: CertificateAuthority
    ca: CertificateAuthority
    signer: str
    certificate: str
    message: str
    signature: str
    clock: ClassroomClock

    @property
    def serial(self) -> int:
        """The serial number of the signer's certificate."""
        return x509.load_pem_x509_certificate(self.certificate.encode("ascii")).serial_number

    def __repr__(self) -> str:
        return f"CertificateWorld(root={self.root!r}, ca={self.ca!r}, signer={self.signer!r})"


def certificate_world(
    signer: str = "invoices", message: str = "invoice 2026-001: 12.50 EUR", *, unit: str | None = None
) -> CertificateWorld:
    """A root CA, an issuing CA and a certified ECDSA P-256 signer, all keys in one custodian, and a signature.

    ``unit`` adds an organizational unit to the signer's subject (``OU=...``), so that two worlds' signers differ.
    """
    clock = classroom_clock()
    kms = KeyCustodian(clock=clock)
    for key_id in ("root", "issuing", signer):
        kms.generate_signing_key(key_id, algorithm="ecdsa-p256-sha256")
    root = CertificateAuthority.create_root(kms, "root", subject="CN=Course Root CA,O=kmslib course", days=3650)
    ca = root.create_intermediate("issuing", subject="CN=Course Issuing CA,O=kmslib course", days=1825)
    unit_part = "" if unit is None else f",OU={unit}"
    certificate = ca.issue(signer, subject=f"CN={signer}{unit_part},O=kmslib course", days=90)
    return CertificateWorld(kms, root, ca, signer, certificate, message, kms.sign(signer, message), clock)


def certificate_lab() -> CertificateWorld:
    """A fresh world for exercise 4: the signer ``receipts`` and a receipt it signed, before anything went wrong.

    Each lab's signer has a subject of its own (``OU=lab <6 random hex digits>``), so that what a relying party
    says of one lab's certificate is not what it says of another's.
    """
    return certificate_world("receipts", "receipt 7731: 3 coffees, 9.60 EUR", unit=f"lab {secrets.token_hex(3)}")


def ocsp_request(certificate: str, issuer: str) -> bytes:
    """The DER OCSP request about ``certificate`` (PEM), which ``issuer`` (PEM) issued, with SHA-256 hashes.

    Raises:
        InvalidInputError: either is not a PEM certificate.
    """
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode("ascii"))
        issuing = x509.load_pem_x509_certificate(issuer.encode("ascii"))
    except (ValueError, AttributeError, UnicodeEncodeError):
        raise InvalidInputError("certificate and issuer must each be one PEM certificate") from None
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuing, hashes.SHA256()).build()
    return request.public_bytes(serialization.Encoding.DER)


def naive_relying_party(world: CertificateWorld, message: str, signature: str, certificate: str) -> bool:
    """Whether a relying party that checks no revocation status accepts ``signature`` on ``message``.

    It does what a careful one does, but one step: the chain from ``certificate`` through the issuing CA to
    the root, validity dates and key usage (pyca's ``x509.verification``), then the signature with the
    certified key. It asks no CRL and no OCSP responder: a revoked certificate passes. Do not copy it.
    """
    try:
        leaf = x509.load_pem_x509_certificate(certificate.encode("ascii"))
        middle = x509.load_pem_x509_certificate(world.ca.certificate.encode("ascii"))
        anchor = x509.load_pem_x509_certificate(world.root.certificate.encode("ascii"))
        verifier = (
            v.PolicyBuilder()
            .store(v.Store([anchor]))
            .time(world.ca.now())
            .extension_policies(
                ca_policy=v.ExtensionPolicy.webpki_defaults_ca(), ee_policy=v.ExtensionPolicy.permit_all()
            )
            .build_client_verifier()
        )
        verifier.verify(leaf, [middle])
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            return False
        pem = leaf.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        verify_signature(pem, message, signature)
    except (ValueError, TypeError, AttributeError, x509.ExtensionNotFound, v.VerificationError, KMSError):
        return False
    return True
