"""The hybrid post-quantum key exchange X25519MLKEM768 (contract section 5).

As TLS 1.3 and browsers do it (draft-ietf-tls-ecdhe-mlkem), with pyca's ML-KEM-768 (NIST FIPS 203)
and X25519 (RFC 7748). A KEM, unlike Diffie-Hellman, is not symmetric:

1. the initiator sends its public key: the ML-KEM-768 encapsulation key (1184 bytes) followed by an
   X25519 public key (32 bytes);
2. the responder encapsulates to the ML-KEM key (a 32-byte secret, and a 1088-byte ciphertext that
   carries it), makes an X25519 key pair of its own, and replies with the ciphertext followed by its
   X25519 public key (32 bytes);
3. the initiator decapsulates the ciphertext and completes the X25519 exchange.

Both sides then hold the ML-KEM secret followed by the X25519 secret (64 bytes), which HKDF-SHA256 turns
into the AES key. Its info binds a transcript of the exchange (:mod:`kmslib.kex`): both public values and
the ciphertext, so that a changed byte anywhere in them gives another key, even bit 255 of an X25519 part,
which X25519 ignores (RFC 7748 section 5). The exchange stays safe as long as either half holds: ML-KEM
against a future quantum computer, X25519 if ML-KEM, new as it is, turns out weaker than believed.

ML-KEM decapsulation rejects implicitly: a tampered ciphertext decapsulates to a different, pseudo-random
secret, not an error, so the two sides simply hold different keys (the first token between them fails).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives.asymmetric import x25519

from kmslib.errors import ArgumentTypeError, InvalidPeerKeyError

try:  # pragma: no cover - which branch runs depends on the installed cryptography
    from cryptography.hazmat.primitives.asymmetric import mlkem
except ImportError:  # pragma: no cover - cryptography before 50 has no ML-KEM
    mlkem = None  # type: ignore[assignment]

__all__ = [
    "GROUP",
    "HybridPrivateKey",
    "HybridPublicKey",
    "KeyExchangeReply",
    "decapsulate",
    "encapsulate",
    "initiator_public",
    "reply_of",
]

GROUP = "x25519mlkem768"
_EK, _CT, _X = 1184, 1088, 32


def _fingerprint(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def _from_printable(value: object, name: str) -> bytes:
    """The bytes of a handle, of raw bytes, or of the printable (base64) form."""
    if isinstance(value, (HybridPublicKey, KeyExchangeReply)):
        return value.raw
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidPeerKeyError(f"{name} is not the printable (base64) form of an {GROUP} value") from None
    raise ArgumentTypeError(f"{name} must be a handle, bytes or its printable form, not {type(value).__name__}")


class _WireValue:
    """Bytes of a fixed length that cross the network in the exchange, with their fingerprint."""

    __slots__ = ("fingerprint", "group", "raw")
    _SIZE: int
    _WHAT: str

    def __init__(self, raw: bytes) -> None:
        if len(raw) != self._SIZE:
            raise InvalidPeerKeyError(f"an {GROUP} {self._WHAT} is {self._SIZE} bytes, not {len(raw)}")
        self.raw = bytes(raw)
        self.group = GROUP
        self.fingerprint = _fingerprint(self.raw)

    @property
    def printable(self) -> str:
        """The value as base64 text, to paste into a form or a message."""
        return base64.b64encode(self.raw).decode("ascii")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(group={GROUP!r}, bytes={len(self.raw)}, fingerprint={self.fingerprint!r})"


class HybridPublicKey(_WireValue):
    """The initiator's public key: ML-KEM-768 encapsulation key || X25519 public key (1216 bytes).

    Attributes:
        raw: the 1216 bytes.
        group: ``"x25519mlkem768"``.
        fingerprint: the first 16 hex digits of SHA-256 over ``raw``.
        printable: ``raw`` as base64 text.
    """

    __slots__ = ()
    _SIZE = _EK + _X
    _WHAT = "public key"


class KeyExchangeReply(_WireValue):
    """The responder's reply: ML-KEM-768 ciphertext || the responder's X25519 public key (1120 bytes).

    Attributes:
        raw: the 1120 bytes.
        group: ``"x25519mlkem768"``.
        fingerprint: the first 16 hex digits of SHA-256 over ``raw``.
        printable: ``raw`` as base64 text.
    """

    __slots__ = ()
    _SIZE = _CT + _X
    _WHAT = "reply"


class HybridPrivateKey:
    """The initiator's private keys (ML-KEM-768 and X25519). Its repr shows the public part only."""

    __slots__ = ("_mlkem", "_public", "_x25519", "group")

    def __init__(self, mlkem_key: object, x25519_key: x25519.X25519PrivateKey) -> None:
        self._mlkem: object = mlkem_key
        self._x25519 = x25519_key
        self.group = GROUP
        encapsulation_key = mlkem_key.public_key().public_bytes_raw()  # type: ignore[attr-defined]
        self._public = HybridPublicKey(encapsulation_key + x25519_key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> HybridPrivateKey:
        """A fresh pair of private keys (needs cryptography 50 or later, for ML-KEM).

        Raises:
            InvalidPeerKeyError: the installed cryptography has no ML-KEM.
        """
        if mlkem is None:  # pragma: no cover - cryptography before 50
            raise InvalidPeerKeyError(f"{GROUP} needs cryptography 50 or later (ML-KEM)")
        return cls(mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, mlkem_seed: bytes, x25519_private: bytes) -> HybridPrivateKey:
        """The private keys from ML-KEM's 64-byte seed (FIPS 203's d || z) and 32 X25519 private bytes (for tests)."""
        assert mlkem is not None
        return cls(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(mlkem_seed),
            x25519.X25519PrivateKey.from_private_bytes(x25519_private),
        )

    def public_key(self) -> HybridPublicKey:
        """The public key to send the responder."""
        return self._public

    def decapsulate_mlkem(self, ciphertext: bytes) -> bytes | None:
        """ML-KEM-768 decapsulation: the 32-byte secret, or ``None`` for a ciphertext of the wrong length.

        A ciphertext of the right length always gives 32 bytes: implicit rejection.
        """
        if len(ciphertext) != _CT:
            return None
        secret: bytes = self._mlkem.decapsulate(ciphertext)  # type: ignore[attr-defined]
        return secret

    def __repr__(self) -> str:
        return f"HybridPrivateKey(group={GROUP!r}, public_fingerprint={self._public.fingerprint!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a HybridPrivateKey cannot be pickled: it holds secrets")


def _x25519_secret(private: x25519.X25519PrivateKey, public: bytes) -> bytes:
    try:
        secret = private.exchange(x25519.X25519PublicKey.from_public_bytes(public))
    except ValueError:
        secret = b""
    if not any(secret):  # RFC 7748 section 6.1: refuse the all-zero shared secret
        raise InvalidPeerKeyError("the peer's X25519 part is a low-order point (the shared secret is all zero)")
    return secret


def initiator_public(value: object) -> HybridPublicKey:
    """The initiator's public key, from a handle, its 1216 bytes or its printable form.

    Raises:
        InvalidPeerKeyError: a value of the wrong length or of another group.
        ArgumentTypeError: a value that is no public key at all.
    """
    if isinstance(value, KeyExchangeReply) or getattr(value, "group", GROUP) != GROUP:
        raise InvalidPeerKeyError(f"the initiator's public key is not an {GROUP} public key")
    return HybridPublicKey(_from_printable(value, "initiator_public"))


def reply_of(value: object) -> KeyExchangeReply:
    """The responder's reply, from a handle, its 1120 bytes or its printable form.

    Raises:
        InvalidPeerKeyError: a value of the wrong length or of another group.
        ArgumentTypeError: a value that is no reply at all.
    """
    if isinstance(value, HybridPublicKey) or getattr(value, "group", GROUP) != GROUP:
        raise InvalidPeerKeyError(f"that is not an {GROUP} reply")
    return KeyExchangeReply(_from_printable(value, "reply"))


def encapsulate(initiator: object) -> tuple[bytes, KeyExchangeReply]:
    """The responder's side: the 64-byte shared secret and the reply to send back.

    Raises:
        InvalidPeerKeyError: a public key of the wrong length, an invalid ML-KEM key, or an X25519 part
            that gives an all-zero secret.
        ArgumentTypeError: a value that is no public key at all.
    """
    public = initiator_public(initiator)
    if mlkem is None:  # pragma: no cover - cryptography before 50
        raise InvalidPeerKeyError(f"{GROUP} needs cryptography 50 or later (ML-KEM)")
    try:
        encapsulation_key = mlkem.MLKEM768PublicKey.from_public_bytes(public.raw[:_EK])
    except ValueError:
        encapsulation_key = None
    if encapsulation_key is None:
        raise InvalidPeerKeyError("the initiator's ML-KEM-768 encapsulation key is invalid")
    mine = x25519.X25519PrivateKey.generate()
    x_secret = _x25519_secret(mine, public.raw[_EK:])
    k_secret, ciphertext = encapsulation_key.encapsulate()
    return k_secret + x_secret, KeyExchangeReply(ciphertext + mine.public_key().public_bytes_raw())


def decapsulate(private: HybridPrivateKey, reply: object) -> bytes:
    """The initiator's side: the 64-byte shared secret from the responder's reply.

    The X25519 part is checked first, so that a refused reply leaves no ML-KEM secret in a traceback's frames.

    Raises:
        InvalidPeerKeyError: a reply of the wrong length, or an X25519 part giving an all-zero secret.
        ArgumentTypeError: a value that is no reply at all.
    """
    answer = reply_of(reply)
    x_secret = _x25519_secret(private._x25519, answer.raw[_CT:])
    k_secret = private.decapsulate_mlkem(answer.raw[:_CT])
    assert k_secret is not None  # the length was checked
    return k_secret + x_secret
