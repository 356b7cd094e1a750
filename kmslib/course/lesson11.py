"""Lesson 11 (certificates and revocation): four checked exercises and the quiz.

Exercises:

- ``q1`` (recall): which of :data:`SOURCES` can tell a relying party that a certificate was revoked;
- ``q2`` (build): a certificate for the signing key ``contracts``, from the issuing CA, with the right key usage;
  judged on the certificate itself (issuer and signature, subject key, key usage, validity);
- ``q3`` (apply): that certificate revoked for a key compromise, and the CRL a relying party needs to learn it;
  judged on the CA's records and the CRL (issuer, signature, entry and reason, freshness);
- ``q4`` (break): a relying party that checks no status accepts a compromised signer's signature; then the
  same check with the CAs' CRLs refuses it. Judged by running both relying parties again.

Checkers read the certificates, the CRL and the CA's records, never the student's code. Sources: RFC 5280
(certificates, key usage §4.2.1.3, CRLs §5), RFC 6960 (OCSP).
"""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from kmslib.course.certificates import CertificateWorld, naive_relying_party
from kmslib.course.exercises import Exercise, Question, Quiz, indices, indices_refusal, kind, raised_by_kmslib, whole
from kmslib.errors import KMSError, SignatureError
from kmslib.signing import verify_signature

__all__ = ["SOURCES", "q1", "q2", "q3", "q4", "quiz"]

# ---------------------------------------------------------------- q1: what tells a relying party?

#: What a relying party might consult, for exercise 1.
SOURCES: tuple[str, ...] = (
    "the signer's public key, as a PEM file",
    "a CRL signed by the certificate's issuer, whose nextUpdate has not passed",
    "an OCSP response about that very certificate, signed by its issuer, still fresh",
    "the certificate itself",
    "a CRL signed by the certificate's issuer, whose nextUpdate passed last week",
    "an OCSP response about another certificate of the same CA",
)
_TELLS = frozenset({1, 2})
_WHY_NOT = {
    0: "a bare public key carries no dates, no issuer and no status: nothing in it can change when the key is revoked.",
    3: "a certificate is signed once, when it is issued: it says nothing of what happened to the key afterwards.",
    4: "a CRL past its nextUpdate is stale: revocations since then are missing, and a relying party refuses it.",
    5: "a response about another certificate says nothing of this one (each response names its certificate's serial).",
}


def _check_q1(chosen: object) -> str | None:
    picked = indices(chosen)
    if picked is None:
        return indices_refusal(chosen, len(SOURCES), "sources")
    outside = sorted(i for i in picked if not 0 <= i < len(SOURCES))
    if outside:
        return f"there is no source {outside[0]}: they are numbered 0 to {len(SOURCES) - 1}."
    if picked == set(range(len(SOURCES))):
        return "every source? Some of them cannot know of a revocation at all."
    wrong = sorted(picked - _TELLS)
    if wrong:
        return f"source {wrong[0]} cannot tell: {_WHY_NOT[wrong[0]]}"
    if picked != _TELLS:
        return "a source is missing: RFC 5280 and RFC 6960 each define one way for an issuer to publish status."
    return None


q1 = Exercise(
    1,
    "recall",
    "Read `SOURCES`. Which of them can tell a relying party that a certificate was revoked? Pass their indices, "
    "as a set.",
    _check_q1,
    "Ask of each: is it signed by someone who knows of the revocation, after it happened, about this certificate, "
    "and is it still fresh?",
    "q1.check({1, 2})",
)


# ---------------------------------------------------------------- q2: a certificate with the right key usage


def _world(value: object) -> CertificateWorld | str:
    if not isinstance(value, CertificateWorld):
        return f"pass the world that certificate_world() gave you (world = certificate_world()), not {kind(value)}."
    return value


def _parsed(pem: object, name: str) -> x509.Certificate | str:
    if not isinstance(pem, str):
        return f"{name} should be the PEM text that ca.issue(...) returned, not {kind(pem)}."
    try:
        return x509.load_pem_x509_certificate(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return f"{name} is not a PEM certificate: pass the whole text ca.issue(...) returned."


def _issued_by(cert: x509.Certificate, issuer_pem: str) -> bool:
    issuer = x509.load_pem_x509_certificate(issuer_pem.encode("ascii"))
    if cert.issuer != issuer.subject:
        return False
    public = issuer.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):  # pragma: no cover - the course's CAs are ECDSA P-256
        return False
    try:
        public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _certifies(world: CertificateWorld, cert: x509.Certificate, key_id: str) -> bool:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    try:
        pem = world.kms.export_public_key(key_id)
    except KMSError:
        return False
    return cert.public_key() == serialization.load_pem_public_key(pem.encode("ascii"))


_CONTRACTS_SUBJECT = "CN=contracts,O=kmslib course"


def _check_q2(world: object, pem: object) -> str | None:
    found = _world(world)
    if isinstance(found, str):
        return found
    cert = _parsed(pem, "pem")
    if isinstance(cert, str):
        return cert
    if _issued_by(cert, found.root.certificate):
        return "the root issued that certificate: end entities get theirs from the issuing CA (world.ca)."
    if not _issued_by(cert, found.ca.certificate):
        return "the issuing CA (world.ca) did not sign that certificate: issue it with world.ca.issue(...)."
    if "contracts" not in found.kms:
        return "the custodian holds no key 'contracts': make it (an ecdsa-p256-sha256 signing key), then certify it."
    if not _certifies(found, cert, "contracts"):
        return "that certificate names another key: certify 'contracts' (its newest version)."
    if found.kms.key_info("contracts").algorithm != "ecdsa-p256-sha256":
        return (
            "'contracts' is not an ecdsa-p256-sha256 key, as the contracts team asked. Key ids are never reused: "
            "start again with world = certificate_world() and make it with that algorithm."
        )
    subject = cert.subject.rfc4514_string()
    if subject != _CONTRACTS_SUBJECT:
        return f"its subject is {subject[:80]!r}: the contracts team asked for {_CONTRACTS_SUBJECT!r}."
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    if not usage.digital_signature:
        return (
            "its key usage lacks digital_signature: a relying party refuses a signature by a key certified for other "
            "uses (RFC 5280 §4.2.1.3)."
        )
    others = [name for name in ("key_encipherment", "data_encipherment", "key_agreement") if getattr(usage, name)]
    if others:
        return (
            f"its key usage also allows {others[0]}: an ECDSA signing key enciphers and agrees on nothing. Certify "
            "only what the key does."
        )
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    if lifetime != timedelta(days=30):
        return f"it is valid for {lifetime.days} days: the contracts team asked for 30."
    return None


q2 = Exercise(
    2,
    "build",
    "Make an ecdsa-p256-sha256 signing key 'contracts' in `world.kms`, and have the issuing CA (`world.ca`) "
    "certify it for signing documents, valid for 30 days, with subject 'CN=contracts,O=kmslib course'. Pass "
    "(world, pem).",
    _check_q2,
    "world.ca.issue(key_id, subject=..., days=..., key_usage=...): which of kmslib.pki.KEY_USAGES does signing?",
    """world.kms.generate_signing_key("contracts", algorithm="ecdsa-p256-sha256")
pem = world.ca.issue("contracts", subject="CN=contracts,O=kmslib course", days=30, key_usage=("digital_signature",))
q2.check(world, pem)""",
)


# ---------------------------------------------------------------- q3: revoke, and publish the CRL


def _revocation_problem(found: CertificateWorld, number: int) -> str | None:
    """What is wrong with the revocation of certificate ``number`` of ``contracts``, or ``None``."""
    try:
        status = found.ca.status(number)
    except KMSError:
        return "the issuing CA issued no certificate with that serial: take it from exercise 2's certificate."
    if status.key_id != "contracts":
        return f"that serial is the certificate of {status.key_id!r}: revoke the one of 'contracts'."
    if not status.revoked:
        return "that certificate is not revoked yet: revoke it with world.ca.revoke(serial, reason=...)."
    if status.reason != "key_compromise" and status.derived:
        return (
            f"its certificate is revoked because the key was revoked in the custodian, which says "
            f"{status.reason}: a stolen key is a compromise. Mark the key compromised (mark_compromised) instead of "
            "revoking it; a revoked key stays revoked, so start again with world = certificate_world() and "
            "exercise 2."
        )
    if status.reason != "key_compromise":
        return (
            f"its reason is {status.reason or 'none'}: the laptop holding the key was stolen, so the key may be in a "
            "thief's hands. Which RFC 5280 reason says that?"
        )
    still_good = [s for s in found.ca.issued() if s.key_id == "contracts" and not s.revoked]
    if still_good:
        return (
            f"'contracts' has {len(still_good)} more certificate(s) still good (issue ran more than once?): whoever "
            "holds the stolen key can use any of them. Revoke every certificate of that key (world.ca.issued())."
        )
    return None


def _crl_problem(found: CertificateWorld, number: int, crl_pem: object) -> str | None:
    """What is wrong with ``crl_pem`` as the CRL a relying party needs to learn of ``number``, or ``None``."""
    if not isinstance(crl_pem, str):
        return f"crl_pem should be the PEM text world.ca.crl() returned, not {kind(crl_pem)}."
    try:
        crl = x509.load_pem_x509_crl(crl_pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return "crl_pem is not a PEM CRL: pass the whole text world.ca.crl() returned."
    root = x509.load_pem_x509_certificate(found.root.certificate.encode("ascii"))
    issuing = x509.load_pem_x509_certificate(found.ca.certificate.encode("ascii"))
    if crl.issuer == root.subject:
        return "that is the root's CRL: it lists the CAs the root certified. A relying party needs the issuing CA's."
    if crl.issuer != issuing.subject or not crl.is_signature_valid(issuing.public_key()):  # type: ignore[arg-type]
        return "the issuing CA did not sign that CRL: make it with world.ca.crl()."
    if crl.get_revoked_certificate_by_serial_number(number) is None:
        return "that CRL does not list the certificate: it was made before the revocation. Make a new one now."
    next_update = crl.next_update_utc
    if next_update is None or next_update <= found.ca.now():
        return "that CRL is stale (its nextUpdate has passed): a relying party refuses it. Make a fresh one."
    return None


def _check_q3(world: object, serial: object, crl_pem: object) -> str | None:
    found = _world(world)
    if isinstance(found, str):
        return found
    number = whole(serial)
    if number is None:
        return f"serial should be the certificate's serial number (an int: cert.serial_number), not {kind(serial)}."
    return _revocation_problem(found, number) or _crl_problem(found, number, crl_pem)


q3 = Exercise(
    3,
    "apply",
    "The laptop holding the key 'contracts' was stolen. Revoke the certificate of exercise 2 with the right "
    "reason, and make the CRL a relying party needs to learn of it. Pass (world, serial, crl_pem).",
    _check_q3,
    "world.ca.revoke(serial, reason=...) with one of kmslib.pki.REASONS; then world.ca.crl(). Which CA issued the "
    "certificate?",
    """serial = x509.load_pem_x509_certificate(pem.encode()).serial_number
world.ca.revoke(serial, reason="key_compromise")
crl_pem = world.ca.crl()
q3.check(world, serial, crl_pem)""",
)


# ---------------------------------------------------------------- q4: break, then fix


def _fresh_crls(world: CertificateWorld) -> list[str]:
    return [world.root.crl(), world.ca.crl()]


def _check_q4(lab: object, accepted: object, error: object) -> str | None:
    found = _world(lab)
    if isinstance(found, str) or found.signer != "receipts":
        return "pass the lab that certificate_lab() gave you (lab = certificate_lab()), then what you found."
    status = found.ca.status(found.serial)
    if not status.revoked:
        return (
            "the signer's certificate is not revoked yet: the receipts key was stolen. Mark it compromised in the "
            "custodian (the certificate follows), or revoke the certificate."
        )
    if status.reason != "key_compromise":
        return (
            f"the certificate is revoked with reason {status.reason or 'none'}: the receipts laptop was stolen, so "
            "the key is compromised. Mark it compromised (a revoked key or certificate stays so: start a new lab)."
        )
    if not isinstance(accepted, bool):
        return (
            "accepted should be what naive_relying_party(lab, lab.message, lab.signature, lab.certificate) "
            f"returned (True or False), not {kind(accepted)}."
        )
    if not accepted:
        return (
            "the naive relying party does accept the receipt, even after the revocation: run it once the key is "
            "marked compromised, and pass what it returned."
        )
    if not naive_relying_party(found, found.message, found.signature, found.certificate):  # pragma: no cover
        return "the naive relying party refuses the receipt: was the lab's signature changed?"
    if not isinstance(error, SignatureError):
        return (
            "error should be the SignatureError that kmslib.verify_signature(..., crl=...) raised for the receipt "
            f"(except SignatureError as error), not {kind(error)}."
        )
    if not raised_by_kmslib(error):
        return (
            "that error was made by hand, not raised by verify_signature: catch the one it raises "
            "(except SignatureError as error)."
        )
    try:
        verify_signature(
            None,
            found.message,
            found.signature,
            certificate=found.certificate,
            trust_anchor=found.root.certificate,
            intermediates=[found.ca.certificate],
            crl=_fresh_crls(found),
            at=found.ca.now(),
        )
    except SignatureError as expected:
        if str(error) != str(expected):
            return (
                f"that error says {str(error)[:100]!r}; a relying party that consults the CAs' CRLs refuses the "
                "receipt for another reason. Check the receipt with certificate=, trust_anchor=, intermediates= "
                "and crl=."
            )
        return None
    return "with fresh CRLs the receipt still verifies: is the revocation done?"  # pragma: no cover


q4 = Exercise(
    4,
    "break",
    "`lab = certificate_lab()` gives a signer 'receipts', its certificate and a receipt it signed. The receipts "
    "laptop was stolen: mark the key compromised in `lab.kms`. Show that `naive_relying_party(lab, lab.message, "
    "lab.signature, lab.certificate)` still accepts the receipt; then check it as a careful relying party with "
    "`verify_signature` and the CAs' CRLs, and catch the error. Pass (lab, accepted, error).",
    _check_q4,
    "lab.kms.mark_compromised('receipts', reason=...). The careful check: verify_signature(None, message, signature, "
    "certificate=..., trust_anchor=lab.root.certificate, intermediates=[lab.ca.certificate], crl=[lab.root.crl(), "
    "lab.ca.crl()], at=lab.ca.now()).",
    """lab = certificate_lab()
lab.kms.mark_compromised("receipts", reason="laptop stolen")
accepted = naive_relying_party(lab, lab.message, lab.signature, lab.certificate)
try:
    verify_signature(None, lab.message, lab.signature, certificate=lab.certificate,
                     trust_anchor=lab.root.certificate, intermediates=[lab.ca.certificate],
                     crl=[lab.root.crl(), lab.ca.crl()], at=lab.ca.now())
except SignatureError as caught:
    error = caught
q4.check(lab, accepted, error)""",
)


# ---------------------------------------------------------------- the quiz

quiz = Quiz(
    Question(
        "Why can a bare public key not be revoked?",
        {
            "a": "Because public keys are public, so revoking one would reveal the private key",
            "b": "Because nothing signed by anyone says when or whether to stop trusting it, and a copy never changes",
            "c": "Because only RSA keys can be revoked",
        },
        "b",
        "A PEM file carries the key and nothing else. A certificate adds an issuer, dates and a serial number, so "
        "that the issuer can later publish the serial's status (RFC 5280 §5, RFC 6960).",
    ),
    Question(
        "A relying party's CRL passed its nextUpdate yesterday. What should it do?",
        {
            "a": "Accept signatures anyway: the certificate has not expired",
            "b": "Fetch a fresh CRL (or ask OCSP) before trusting the certificate; the stale one may miss revocations",
            "c": "Trust the certificate for another week",
        },
        "b",
        "RFC 5280 §5.1.2.5: nextUpdate is when the next CRL will be issued. After it, the list may be missing "
        "revocations made since; kmslib's relying party refuses a stale CRL.",
    ),
    Question(
        "What does OCSP stapling change?",
        {
            "a": "The server fetches a signed, fresh OCSP response itself and hands it over, so the client does not "
            "tell the responder which site it visits",
            "b": "The CA stops signing OCSP responses",
            "c": "Revoked certificates become valid again",
        },
        "a",
        "The TLS Certificate Status Request extension (RFC 6066 §8) lets the server send the response it fetched; "
        "the response is still signed by the CA (or its delegated responder) and still fresh only until nextUpdate.",
    ),
    Question(
        "What does a Certificate Transparency log give that the course's signed audit checkpoints do not?",
        {
            "a": "Secrecy for the certificates it holds",
            "b": "Merkle-tree proofs that a certificate is in the log and that the log only grew, checkable by anyone",
            "c": "Revocation of certificates",
        },
        "b",
        "RFC 9162: inclusion proofs and consistency proofs over a Merkle tree, signed tree heads, and monitors and "
        "auditors who compare them. A checkpoint proves only that the keeper's key vouched for a head at a time.",
    ),
)
