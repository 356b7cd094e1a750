"""The relying party: a certificate chain, each certificate's status, then the certified key (contract section 14).

:func:`certified_key` is what ``kmslib.verify_signature(None, ..., certificate=...)`` does before it checks
the signature:

1. **Inputs** are untrusted: each must be a PEM certificate (or CRL) or a DER OCSP response of bounded size,
   and ``at`` a timezone-aware time.
2. **Dates**: the leaf and each intermediate must be valid at ``at`` (RFC 5280 §4.1.2.5); the error says which
   expired or is not yet valid.
3. **The chain** is built and checked by pyca's :mod:`cryptography.x509.verification` from the leaf through
   the intermediates given to the trust anchor (signatures, names, basic constraints, CA key usage, path
   length, at ``at``). pyca's verifier accepts ECDSA and RSA keys (it follows the CA/Browser Forum's algorithm
   list), not Ed25519 or ML-DSA.
4. **The leaf is for signing**: not a CA certificate, and its key usage includes ``digitalSignature``
   (RFC 5280 §4.2.1.3).
5. **Status** for every certificate of the chain but the trust anchor: from a CRL its issuer signed (RFC 5280 §5;
   usable only while ``thisUpdate <= at <= nextUpdate``, and complete: not a delta or scoped CRL) or an OCSP
   response about that very certificate (RFC 6960: its CertID names the certificate's serial and its issuer's name
   and key hashes), signed by the issuer or by a responder the issuer certified for OCSP signing (§4.2.2.2), fresh
   at ``at``. A certificate any usable source lists as revoked is refused, with the reason and time; one with no
   usable status is refused too ("no status"): a relying party that cannot learn a revocation must not assume there
   was none. The trust anchor is trusted as configured, with no status: a certificate given as its own trust anchor
   (a pinned certificate) is accepted without any, so only a CA's certificate belongs there.

Every refusal is a :class:`~kmslib.errors.SignatureError` that says why, naming the certificate by subject.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509 import verification as v
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from kmslib.errors import ArgumentTypeError, InvalidInputError, SignatureError

__all__ = ["MAX_CHAIN_ITEMS", "MAX_ITEM_BYTES", "certified_key"]

#: The most bytes of one certificate, CRL or OCSP response read (a CRL of 100,000 entries fits).
MAX_ITEM_BYTES = 8 << 20
#: The most intermediates, CRLs or OCSP responses read in one check.
MAX_CHAIN_ITEMS = 16
_SHOWN = 80  # characters of a subject named in a message


@dataclass(frozen=True)
class _Status:
    """What the sources say of one certificate: ``good``, ``revoked`` (with why), or why there is no status."""

    revoked: str | None = None
    good: bool = False
    problem: str | None = None


def _name(cert: x509.Certificate) -> str:
    text = cert.subject.rfc4514_string() or "(no subject)"
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, str):
        try:
            data = value.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidInputError(f"{what} is not PEM text (it holds characters outside ASCII)") from None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        raise ArgumentTypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if len(data) > MAX_ITEM_BYTES:
        raise InvalidInputError(f"{what} is {len(data):,} bytes; at most {MAX_ITEM_BYTES:,} are read")
    return data


def _certificate(value: object, what: str) -> x509.Certificate:
    data = _bytes(value, what)
    if data.lstrip().count(b"-----BEGIN CERTIFICATE-----") != 1:
        raise InvalidInputError(f"{what} is not one PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        return x509.load_pem_x509_certificate(data.strip())
    except ValueError:
        raise InvalidInputError(f"{what} is not a readable PEM certificate") from None


def _items(value: object, what: str) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise ArgumentTypeError(f"{what} must be one item or a list of them, not {type(value).__name__}")
    if len(value) > MAX_CHAIN_ITEMS:
        raise InvalidInputError(f"{what} holds {len(value)} items; at most {MAX_CHAIN_ITEMS} are read")
    return list(value)


def _crls(value: object) -> list[x509.CertificateRevocationList]:
    found = []
    for index, item in enumerate(_items(value, "crl")):
        data = _bytes(item, f"crl[{index}]")
        try:
            found.append(x509.load_pem_x509_crl(data.strip()))
        except ValueError:
            raise InvalidInputError(f"crl[{index}] is not a PEM CRL (-----BEGIN X509 CRL-----)") from None
    return found


def _ocsp(value: object) -> list[ocsp.OCSPResponse]:
    found = []
    for index, item in enumerate(_items(value, "ocsp")):
        if isinstance(item, str):
            raise ArgumentTypeError(f"ocsp[{index}] must be the DER bytes of an OCSP response, not str")
        data = _bytes(item, f"ocsp[{index}]")
        try:
            found.append(ocsp.load_der_ocsp_response(data))
        except ValueError:
            raise InvalidInputError(f"ocsp[{index}] is not a DER OCSP response (RFC 6960 §4.2.1)") from None
    return found


def _time(at: object) -> datetime:
    if not isinstance(at, datetime):
        raise ArgumentTypeError(f"at must be a datetime, not {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInputError("at must be timezone-aware (UTC), such as datetime.now(timezone.utc)")
    return at


def _dates(cert: x509.Certificate, at: datetime, role: str) -> str | None:
    """Why ``cert`` is not valid at ``at`` (RFC 5280 §4.1.2.5), or ``None``."""
    if at > cert.not_valid_after_utc:
        return f"the certificate of {_name(cert)}{role} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    if at < cert.not_valid_before_utc:
        return (
            f"the certificate of {_name(cert)}{role} is not valid until {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    return None


def _chain(leaf: x509.Certificate, anchor: x509.Certificate, middle: list[x509.Certificate], at: datetime) -> list[Any]:
    problem = _dates(leaf, at, "") or _dates(anchor, at, " (the trust anchor)")
    if problem is not None:
        raise SignatureError(problem)
    verifier = (
        v.PolicyBuilder()
        .store(v.Store([anchor]))
        .time(at)
        .extension_policies(
            ca_policy=v.ExtensionPolicy.webpki_defaults_ca(), ee_policy=v.ExtensionPolicy.permit_all()
        )  # the leaf's fitness: checked below
        .build_client_verifier()
    )
    problem = None
    try:
        chain = list(verifier.verify(leaf, middle).chain)
    except v.VerificationError as exc:
        problem = str(exc)
    if problem is not None:
        if "Forbidden public key algorithm" in problem or "Forbidden signature algorithm" in problem:
            raise SignatureError(
                f"the certificate of {_name(leaf)} uses an algorithm pyca's verifier does not accept (it takes ECDSA "
                "and RSA, as the CA/Browser Forum does; not Ed25519 or ML-DSA)"
            )
        for cert in middle:  # an intermediate out of its dates breaks the path: say so, rather than "untrusted"
            dated = _dates(cert, at, " (an intermediate)")
            if dated is not None and cert.subject == leaf.issuer:
                raise SignatureError(dated)
        raise SignatureError(
            f"the certificate of {_name(leaf)} does not chain to the trust anchor (untrusted): no path through the "
            "intermediates given is signed all the way to it"
        )
    basic = (
        leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        if _has(leaf, x509.BasicConstraints)
        else None
    )
    if basic is not None and basic.ca:
        raise SignatureError(f"the certificate of {_name(leaf)} is a CA's certificate, not a signer's")
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value if _has(leaf, x509.KeyUsage) else None
    if usage is None or not usage.digital_signature:
        raise SignatureError(
            f"the certificate of {_name(leaf)} is not for signing: its key usage lacks digitalSignature "
            "(RFC 5280 §4.2.1.3)"
        )
    return chain


def _has(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> bool:
    try:
        cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return False
    return True


def _verifies(public: Any, signature: bytes, data: bytes, algorithm: Any, oid: x509.ObjectIdentifier) -> bool:
    """Whether ``signature`` over ``data`` verifies with ``public`` by the signature algorithm ``oid``."""
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(public, rsa.RSAPublicKey) and oid == SignatureAlgorithmOID.RSASSA_PSS:
            public.verify(signature, data, padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO), algorithm)
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _signed(signer: x509.Certificate, signed: Any, data: bytes) -> bool:
    """Whether ``signed`` (a CRL or an OCSP response) carries ``signer``'s signature over ``data``.

    pyca names no hash for an RSASSA-PSS signature of these (its parameters hold it): SHA-256, -384 and -512
    are tried, each with MGF1 of the same hash (RFC 4055 §3.1).
    """
    oid = signed.signature_algorithm_oid
    try:
        candidates = [signed.signature_hash_algorithm]
    except UnsupportedAlgorithm:
        if oid != SignatureAlgorithmOID.RSASSA_PSS:
            return False
        candidates = [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()]
    public = signer.public_key()
    return any(h is not None and _verifies(public, signed.signature, data, h, oid) for h in candidates)


def _key_bytes(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's contents, which OCSP's issuerKeyHash hashes (RFC 6960 §4.1.1)."""
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b""  # other keys: no CertID matches


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def _crl_status(cert: x509.Certificate, issuer: x509.Certificate, crls: Sequence[Any], at: datetime) -> _Status:
    stale = None
    for crl in crls:
        if crl.issuer != issuer.subject or not _signed(issuer, crl, crl.tbs_certlist_bytes) or _partial(crl):
            continue
        next_update = crl.next_update_utc
        if crl.last_update_utc > at or next_update is None or next_update < at:
            stale = (
                f"the CRL from {_name(issuer)} is stale at that time (thisUpdate {crl.last_update_utc:%Y-%m-%d %H:%M}"
            )
            stale += "" if next_update is None else f", nextUpdate {next_update:%Y-%m-%d %H:%M} UTC"
            stale += "): fetch a fresh one"
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            return _Status(revoked=_revocation(cert, entry.revocation_date_utc, _reason_of(entry)))
        return _Status(good=True)
    return _Status(problem=stale)


def _partial(crl: x509.CertificateRevocationList) -> bool:
    """Whether ``crl`` lists only some revocations: a delta CRL (RFC 5280 §5.2.4), or one scoped (§5.2.5).

    Its silence about a certificate says nothing, so it gives no status.
    """
    for extension in crl.extensions:
        if isinstance(extension.value, (x509.DeltaCRLIndicator, x509.IssuingDistributionPoint)):
            return True
    return False


def _reason_of(entry: x509.RevokedCertificate) -> str | None:
    try:
        return str(entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name)
    except x509.ExtensionNotFound:
        return None


def _revocation(cert: x509.Certificate, when: datetime | None, reason: str | None) -> str:
    date = "" if when is None else f" on {when:%Y-%m-%d %H:%M} UTC"
    return f"the certificate of {_name(cert)} was revoked{date} (reason: {reason or 'none given'})"


def _responder(response: ocsp.OCSPResponse, issuer: x509.Certificate, at: datetime) -> x509.Certificate | None:
    """Who may have signed ``response`` for ``issuer``'s certificates: the issuer, or a responder it delegated."""
    if _named(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _named(response, candidate) or candidate.issuer != issuer.subject:
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
            purposes = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        valid = candidate.not_valid_before_utc <= at <= candidate.not_valid_after_utc
        if ExtendedKeyUsageOID.OCSP_SIGNING in purposes and valid:
            return candidate
    return None


def _named(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Whether the response's responder id names ``cert`` (by name, or by SHA-1 of its key: RFC 6960 §4.2.1)."""
    if response.responder_name is not None:
        return bool(response.responder_name == cert.subject)
    key_hash = response.responder_key_hash
    return key_hash is not None and key_hash == _digest(hashes.SHA1(), _key_bytes(cert))  # noqa: S303 - RFC 6960


def _ocsp_status(cert: x509.Certificate, issuer: x509.Certificate, responses: Sequence[Any], at: datetime) -> _Status:
    about_others = stale = None
    for response in responses:
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            continue
        for single in response.responses:  # a response may answer for several certificates (RFC 6960 §4.2.1)
            algorithm = single.hash_algorithm
            same = single.serial_number == cert.serial_number and (
                single.issuer_name_hash == _digest(algorithm, issuer.subject.public_bytes())
                and single.issuer_key_hash == _digest(algorithm, _key_bytes(issuer))
            )
            if not same:
                about_others = f"the OCSP response given is about another certificate, not {_name(cert)}"
                continue
            signer = _responder(response, issuer, at)
            if signer is None or not _signed(signer, response, response.tbs_response_bytes):
                continue
            next_update = single.next_update_utc
            if single.this_update_utc > at or next_update is None or next_update < at:
                stale = f"the OCSP response about {_name(cert)} is stale at that time: ask the responder again"
                continue
            if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
                reason = single.revocation_reason
                when = single.revocation_time_utc
                return _Status(revoked=_revocation(cert, when, None if reason is None else reason.name))
            if single.certificate_status is ocsp.OCSPCertStatus.GOOD:
                return _Status(good=True)
    return _Status(problem=stale or about_others)


def certified_key(
    certificate: object,
    *,
    trust_anchor: object,
    intermediates: object = (),
    crl: object = None,
    ocsp_responses: object = None,
    at: object,
) -> Any:
    """The public key ``certificate`` certifies, once its chain and every status check pass (module docstring).

    Raises:
        SignatureError: revoked (reason, time), expired, not yet valid, untrusted, not for signing, stale
            status, status about another certificate, or no status: the message says which, and of whom.
        InvalidInputError, ArgumentTypeError: an input that is not what it should be.
    """
    when = _time(at)
    leaf = _certificate(certificate, "certificate")
    anchor = _certificate(trust_anchor, "trust_anchor")
    middle = [
        _certificate(item, f"intermediates[{n}]") for n, item in enumerate(_items(intermediates, "intermediates"))
    ]
    lists, responses = _crls(crl), _ocsp(ocsp_responses)
    chain = _chain(leaf, anchor, middle, when)
    missing = None
    for cert, issuer in itertools.pairwise(chain):  # every certificate but the anchor, leaf first
        from_crl = _crl_status(cert, issuer, lists, when)
        from_ocsp = _ocsp_status(cert, issuer, responses, when)
        for status in (from_crl, from_ocsp):
            if status.revoked is not None:
                raise SignatureError(status.revoked)  # a revocation anywhere in the chain wins over a missing status
        if missing is None and not (from_crl.good or from_ocsp.good):
            why = from_crl.problem or from_ocsp.problem
            missing = (why + "; so " if why else "") + (
                f"there is no status for the certificate of {_name(cert)}: give a fresh CRL from its issuer "
                "or an OCSP response about it"
            )
    if missing is not None:
        raise SignatureError(missing)
    return leaf.public_key()
