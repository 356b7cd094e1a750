"""One version of a signing key: Ed25519, ECDSA P-256 with SHA-256, or RSA-PSS with SHA-256.

The recipe, whole (contract section 8):

- ``"ed25519"``: RFC 8032 Ed25519; the signature is the raw 64 bytes;
- ``"ecdsa-p256-sha256"``: ECDSA over NIST P-256 with SHA-256 (FIPS 186-5); the signature is DER, always
  low-s (``s <= n/2``), with a random nonce or, on request, RFC 6979's deterministic one;
- ``"rsa-pss-sha256"``: RSASSA-PSS (RFC 8017) with SHA-256, MGF1-SHA256 and a 32-byte salt, on a
  2048-, 3072- or 4096-bit key; the signature is k bytes;
- ``"ml-dsa-65"``: the post-quantum ML-DSA-65 (NIST FIPS 204), pure, with an empty context; the
  signature is the raw 3309 bytes (needs cryptography 50 or later).

A signature travels as a section-3 token, ``kms:v<version>:<algorithm>:<base64 signature>``. A
signature proves that the holder of the private key signed exactly these bytes; it hides nothing,
and which person holds the key is for certificates or an out-of-band check to say.

Like every key material (see :mod:`kmslib._material`), methods answer ``None`` rather than raise.
A signing key encrypts nothing: the custodian checks a key's kind before it calls
:meth:`SigningKeyVersion.encrypt` or :meth:`SigningKeyVersion.decrypt`, which answer ``None``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from kmslib import _checks, _ffdh
from kmslib.audit import CHECKPOINT_CONTEXT
from kmslib.clock import utc_now
from kmslib.errors import ArgumentTypeError, InvalidInputError, KMSError, SignatureError
from kmslib.rsa import PUBLIC_EXPONENT, seal_pkcs8
from kmslib.tokens import ECDSA_P256, ED25519, ML_DSA_65, RSA_PSS, parse_token
from kmslib.usage import UsageCounter

try:  # pragma: no cover - which branch runs depends on the installed cryptography
    from cryptography.hazmat.primitives.asymmetric import mldsa
except ImportError:  # pragma: no cover - cryptography before 50 has no ML-DSA
    mldsa = None  # type: ignore[assignment]

__all__ = [
    "DETERMINISTIC_ALGORITHMS",
    "RSA_PSS_SIZES",
    "SIGNING_ALGORITHMS",
    "SigningKeyVersion",
    "signable",
    "verify_signature",
]

#: The named choices for ``algorithm``.
SIGNING_ALGORITHMS = (ED25519, ECDSA_P256, RSA_PSS, ML_DSA_65)
#: The RSA-PSS key sizes offered.
RSA_PSS_SIZES = (2048, 3072, 4096)
#: The algorithms whose signatures can be deterministic: Ed25519 always is (RFC 8032 §5.1.6), ECDSA with
#: ``deterministic=True`` derives its nonce from the key and the message (RFC 6979 §3.2).
DETERMINISTIC_ALGORITHMS = (ED25519, ECDSA_P256)
#: The order n of P-256's base point (NIST SP 800-186 §3.2.1.3).
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: Exactly one PEM block, with nothing but whitespace around it (RFC 7468 §2-§3).
_ONE_PEM = re.compile(rb"\s*(-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\s]*-----END \2-----)\s*")
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_SHA256 = hashes.SHA256()


def _algorithm_of(public_key: object) -> str | None:
    """The signing algorithm a public key is for, or ``None`` for any other key."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return ECDSA_P256
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= min(RSA_PSS_SIZES):
        return RSA_PSS
    if mldsa is not None and isinstance(public_key, mldsa.MLDSA65PublicKey):
        return ML_DSA_65
    return None


def _verifies(public_key: Any, algorithm: str, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``algorithm``'s signature of ``message`` under ``public_key``."""
    try:
        if algorithm in (ED25519, ML_DSA_65):  # ML-DSA: pure, with an empty context
            public_key.verify(signature, message)
        elif algorithm == ECDSA_P256:
            public_key.verify(signature, message, ec.ECDSA(_SHA256))
        else:
            public_key.verify(signature, message, _PSS, _SHA256)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class SigningKeyVersion:
    """One signing key pair and its algorithm.

    Args:
        private_key: a pyca Ed25519, P-256 or RSA private key.
        algorithm: one of :data:`SIGNING_ALGORITHMS`, matching the key.
    """

    __slots__ = ("_private", "algorithm", "fingerprint", "key_size", "public_key", "usage")
    #: A signing key binds no associated data and encrypts nothing (see the module docstring).
    binds_associated_data = False
    max_plaintext = -1

    def __init__(self, private_key: Any, algorithm: str) -> None:
        self._private: Any = private_key
        #: A count of signatures, set by the custodian only under a ``max_uses`` policy (see :mod:`kmslib.states`).
        self.usage: UsageCounter | None = None
        self.public_key: Any = private_key.public_key()
        self.algorithm = algorithm
        self.key_size: int | None = getattr(private_key, "key_size", None) if algorithm == RSA_PSS else None
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.fingerprint = hashlib.sha256(der).hexdigest()[:16]

    @classmethod
    def generate(cls, algorithm: str, key_size: int | None = None) -> SigningKeyVersion:
        """A fresh key pair for ``algorithm`` (``key_size`` for RSA-PSS only)."""
        if algorithm == ED25519:
            return cls(ed25519.Ed25519PrivateKey.generate(), algorithm)
        if algorithm == ECDSA_P256:
            return cls(ec.generate_private_key(ec.SECP256R1()), algorithm)
        if algorithm == ML_DSA_65:
            if mldsa is None:  # pragma: no cover - cryptography before 50
                raise InvalidInputError("ml-dsa-65 needs cryptography 50 or later")
            return cls(mldsa.MLDSA65PrivateKey.generate(), algorithm)
        return cls(rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=key_size or 2048), algorithm)

    def successor(self) -> SigningKeyVersion:
        """A fresh key pair of the same algorithm and size, for rotation."""
        return SigningKeyVersion.generate(self.algorithm, self.key_size)

    def sign(self, message: bytes, *, deterministic: bool = False) -> bytes | None:
        """The signature of ``message``, or ``None`` if this version was destroyed meanwhile or :attr:`usage` refuses.

        An ECDSA signature is always low-s (``s <= n/2``): of the two signatures ``(r, s)`` and ``(r, n - s)``
        that verify alike, kmslib gives the lower, as Bitcoin's BIP 146 requires.

        Args:
            message: the bytes to sign.
            deterministic: ECDSA's nonce from RFC 6979 (the same message gives the same signature) instead of
                the CSPRNG; Ed25519 is deterministic anyway.

        Raises:
            InvalidInputError: ``deterministic`` for RSA-PSS (its salt is random) or ML-DSA.
            ArgumentTypeError: ``deterministic`` is not a bool.
        """
        if not isinstance(deterministic, bool):
            raise ArgumentTypeError(f"deterministic must be a bool, not {type(deterministic).__name__}")
        if deterministic and self.algorithm not in DETERMINISTIC_ALGORITHMS:
            raise InvalidInputError(f"deterministic signing applies to {' and '.join(DETERMINISTIC_ALGORITHMS)} only")
        private = self._private  # read once: destroy() may run in another thread
        usage = self.usage
        if private is None or (usage is not None and not usage.take()):
            return None
        if self.algorithm in (ED25519, ML_DSA_65):
            signature: bytes = private.sign(message)
        elif self.algorithm == ECDSA_P256:
            r, s = utils.decode_dss_signature(
                private.sign(message, ec.ECDSA(_SHA256, deterministic_signing=deterministic))
            )
            signature = utils.encode_dss_signature(r, min(s, _P256_ORDER - s))
        else:
            signature = private.sign(message, _PSS, _SHA256)
        return signature

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` signs ``message`` under this version's public key."""
        return _verifies(self.public_key, self.algorithm, message, signature)

    def encrypt(self, plaintext: bytes, associated_data: bytes | None) -> None:
        """A signing key encrypts nothing (the custodian never asks)."""
        return None

    def decrypt(self, payload: bytes, associated_data: bytes | None) -> None:
        """A signing key decrypts nothing (the custodian never asks)."""
        return None

    def too_long(self, length: int) -> str:
        """A signing key encrypts nothing."""
        return f"{self.algorithm} keys sign; they encrypt nothing"

    def public_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        pem: bytes = self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode("ascii")

    def sealed(self, seal: Callable[[bytes | bytearray], bytes]) -> bytes | None:
        """Hand the private key, as PKCS#8 DER, to ``seal`` and return its result; ``None`` once destroyed.

        See :func:`kmslib.rsa.seal_pkcs8`.
        """
        return seal_pkcs8(self._private, seal)

    def destroy(self) -> None:
        """Drop kmslib's reference to the private key (freed with the pyca object; see :mod:`kmslib.rsa`)."""
        self._private = None

    def __repr__(self) -> str:
        return f"SigningKeyVersion(algorithm={self.algorithm!r}, fingerprint={self.fingerprint!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("signing key material cannot be pickled")


#: The prefix of every key-exchange statement (:meth:`kmslib.kex.Transcript.statement`), whatever its version:
#: plain ``sign`` refuses it, so that whoever may sign messages with a key cannot sign an exchange with it.
KEX_CONTEXT = b"kmslib-kex-"


def signable(message: object) -> bytes:
    """``message`` as the bytes ``KeyCustodian.sign`` signs: anything but a checkpoint's or a key exchange's statement.

    Raises:
        InvalidInputError: the message begins with :data:`~kmslib.audit.CHECKPOINT_CONTEXT` or
            :data:`KEX_CONTEXT`.
        ArgumentTypeError: ``message`` is neither ``str`` nor bytes-like.
    """
    data = _checks.data(message, "message")
    if data.startswith(CHECKPOINT_CONTEXT):
        raise InvalidInputError(
            "a message that begins with 'kmslib-checkpoint:' is an audit checkpoint: "
            "sign_audit_checkpoint alone signs those"
        )
    if data.startswith(KEX_CONTEXT):
        raise InvalidInputError(
            "a message that begins with 'kmslib-kex-' is a key exchange's transcript: "
            "kmslib.kex.sign_transcript alone signs those"
        )
    return data


def verify_signature(
    public_key_pem: str | bytes | None,
    message: str | bytes,
    signature: str,
    *,
    certificate: str | bytes | None = None,
    trust_anchor: str | bytes | None = None,
    intermediates: Sequence[str | bytes] = (),
    crl: str | bytes | Sequence[str | bytes] | None = None,
    ocsp: bytes | Sequence[bytes] | None = None,
    at: datetime | None = None,
) -> None:
    """Check a signature token with only the signer's public key, as a relying party does.

    The algorithm comes from the key: an Ed25519, P-256 or ML-DSA-65 key, or any RSA key of 2048 bits or
    more, which is taken as an ``rsa-pss-sha256`` key. A PEM holds the public key alone, so a relying party
    with only the PEM cannot tell what the key is for (kmslib's own RSA-OAEP encryption keys pass as
    RSA-PSS keys) nor whether the custodian has revoked it: certificates, with their key usage and
    revocation lists (RFC 5280 §4.2.1.3, §5), carry that. An ECDSA signature verifies whether its ``s`` is
    low or high, as FIPS 186-5 defines verification (any ``0 < s < n``): ``(r, n - s)`` verifies wherever
    ``(r, s)`` does, so a signature's bytes do not identify a message (kmslib's own are always low-s).

    With ``certificate=`` instead of a PEM (``public_key_pem=None``), the relying party checks what a bare key
    cannot tell (contract section 14, :mod:`kmslib.relying`): the chain from the certificate through
    ``intermediates`` to ``trust_anchor``, at ``at``, with pyca's ``x509.verification``; that the certificate is
    for signing; and the status of every certificate of the chain but the anchor, from ``crl`` (its issuer's,
    fresh) or ``ocsp`` (about that certificate, signed by its issuer or a delegated responder, fresh). Only then
    does it check the signature with the certified key. Every refusal is a ``SignatureError`` that says why:
    revoked (with reason and time), expired, not yet valid, untrusted, not for signing, stale, about another
    certificate, or no status.

    Args:
        public_key_pem: the signer's SubjectPublicKeyInfo PEM (``export_public_key``): exactly one PEM
            block, with nothing but whitespace around it; ``None`` with ``certificate=``.
        message: what was signed: ``str`` (UTF-8) or bytes.
        signature: the token ``sign`` returned.
        certificate: the signer's certificate (PEM), in place of ``public_key_pem``.
        trust_anchor: the root certificate the relying party trusts (PEM); needed with ``certificate``.
        intermediates: the CA certificates between them (PEM).
        crl: CRLs (PEM): one, or a list.
        ocsp: OCSP responses (DER bytes): one, or a list.
        at: when to judge the chain and the status (timezone-aware; now by default).

    Raises:
        SignatureError: the signature does not verify, is malformed, is of another algorithm, or the PEM is
            not exactly one signing public key: one message for every cause. With ``certificate=``: why the
            certificate is refused, or that the signature does not verify with the certified key.
        ArgumentTypeError, InvalidInputError: an argument of the wrong type or form.
    """
    if certificate is not None or public_key_pem is None:
        _verify_certified(public_key_pem, message, signature, certificate, trust_anchor, intermediates, crl, ocsp, at)
        return
    if (trust_anchor, crl, ocsp, at) != (None, None, None, None) or intermediates != ():
        raise InvalidInputError("trust_anchor, intermediates, crl, ocsp and at go with certificate=, not with a PEM")
    data = _checks.data(message, "message")
    raw = _checks.text_or_bytes_pem(public_key_pem, "public_key_pem")
    if not isinstance(signature, str):
        raise ArgumentTypeError(f"signature must be a str token, not {type(signature).__name__}")
    public_key: Any = None
    algorithm = payload = None
    block = _ONE_PEM.fullmatch(raw)
    try:
        public_key = None if block is None or raw.count(b"-----BEGIN ") != 1 else _ffdh.load_pem_public_key(raw)
        _, algorithm, payload = parse_token(signature)
    except (ValueError, UnsupportedAlgorithm, KMSError):  # an unreadable PEM, or a malformed token
        public_key = None
    ok = (
        public_key is not None
        and algorithm is not None
        and payload is not None
        and _algorithm_of(public_key) == algorithm
        and _verifies(public_key, algorithm, data, payload)
    )
    if not ok:
        raise SignatureError()  # outside any except block: no context


def _verify_certified(  # noqa: PLR0917 - verify_signature's arguments, passed through
    public_key_pem: object,
    message: object,
    signature: object,
    certificate: object,
    trust_anchor: object,
    intermediates: object,
    crl: object,
    ocsp: object,
    at: object,
) -> None:
    """:func:`verify_signature` with a certificate: the relying party's checks, then the signature."""
    if public_key_pem is not None:
        raise InvalidInputError("give the signer's public key PEM or its certificate, not both")
    if certificate is None:
        raise InvalidInputError("give the signer's public key PEM, or public_key_pem=None with certificate=")
    if trust_anchor is None:
        raise InvalidInputError("certificate= needs trust_anchor=, the root certificate the relying party trusts")
    data = _checks.data(message, "message")
    if not isinstance(signature, str):
        raise ArgumentTypeError(f"signature must be a str token, not {type(signature).__name__}")
    from kmslib import relying  # noqa: PLC0415 - pyca's x509 (some 20 ms) only when a certificate is checked

    public_key = relying.certified_key(
        certificate,
        trust_anchor=trust_anchor,
        intermediates=intermediates,
        crl=crl,
        ocsp_responses=ocsp,
        at=utc_now() if at is None else at,
    )
    algorithm = payload = None
    try:
        _, algorithm, payload = parse_token(signature)
    except KMSError:
        algorithm = None
    ok = (
        algorithm is not None
        and payload is not None
        and _algorithm_of(public_key) == algorithm
        and _verifies(public_key, algorithm, data, payload)
    )
    if not ok:
        raise SignatureError("the signature does not verify with the key the certificate names")
