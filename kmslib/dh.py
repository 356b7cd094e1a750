"""Diffie-Hellman key exchange: key handles, validation, and HKDF into an AES key.

Keys come from a fixed, published group, never from freshly generated parameters:

- ``"ffdhe2048"``, ``"ffdhe3072"``, ``"ffdhe4096"``: RFC 7919 finite-field groups (see :mod:`kmslib._ffdh`);
- ``"x25519"``: RFC 7748 elliptic-curve Diffie-Hellman, the modern default of TLS 1.3.

The recipe, whole: validate the peer's public key; compute the shared secret (finite field:
left-padded to the byte length of p); derive 32 bytes with HKDF-SHA256 (no salt, the given
``info``). Both parties get the same 32 bytes, which :class:`~kmslib.KeyCustodian` then keeps
as an AES-256 key. An authenticated exchange signs a transcript and appends its digest to ``info``:
see :mod:`kmslib.kex`.

Handles (:class:`DHPrivateKey`, :class:`DHPublicKey`) wrap the pyca/cryptography keys so that
printing one teaches something, and a private handle's repr never shows the secret.
"""

from __future__ import annotations

import hashlib
from typing import Any, get_args

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmslib import _checks, _ffdh
from kmslib.errors import ArgumentTypeError, InvalidInputError, InvalidPeerKeyError

__all__ = [
    "DEFAULT_INFO",
    "GROUPS",
    "DHPrivateKey",
    "DHPublicKey",
    "derive_key_bytes",
    "generate_key_pair",
    "generate_teaching_key_pair",
    "kdf",
    "load_public_key",
    "public_key_from_y",
    "public_key_pem",
    "shared_secret",
]

#: The groups a key pair can be made in.
GROUPS = (*_ffdh.FF_GROUPS, "x25519")
#: The default HKDF ``info`` of :meth:`kmslib.KeyCustodian.derive_shared_key`.
DEFAULT_INFO = b"kmslib key exchange"


def _spki_der(key: Any) -> bytes:
    der: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def _describe(key: Any) -> tuple[str, int]:
    """The (group name, bits) of a pyca public or private key-exchange key."""
    if isinstance(key, (x25519.X25519PublicKey, x25519.X25519PrivateKey)):
        return "x25519", 256
    return _ffdh.group_name(key), int(key.key_size)


class DHPublicKey:
    """A Diffie-Hellman or X25519 public key: safe to print, share and paste.

    Attributes:
        cryptography_key: the pyca/cryptography public key.
        group: ``"ffdhe2048"``, ``"ffdhe3072"``, ``"ffdhe4096"`` or ``"x25519"``.
        bits: the size of the group's prime (finite field) or of the key (X25519).
        fingerprint: the first 16 hex digits of SHA-256 over the SubjectPublicKeyInfo DER.

    """

    __slots__ = ("bits", "cryptography_key", "fingerprint", "group")

    def __init__(self, cryptography_key: Any) -> None:
        if not (isinstance(cryptography_key, x25519.X25519PublicKey) or _ffdh.is_public_key(cryptography_key)):
            raise ArgumentTypeError(
                f"a DHPublicKey wraps a pyca DH or X25519 public key, not {type(cryptography_key).__name__}"
            )
        self.cryptography_key = cryptography_key
        self.group, self.bits = _describe(cryptography_key)
        self.fingerprint = hashlib.sha256(_spki_der(cryptography_key)).hexdigest()[:16]

    @property
    def pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        return public_key_pem(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DHPublicKey):
            return NotImplemented
        return _spki_der(self.cryptography_key) == _spki_der(other.cryptography_key)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"DHPublicKey(group={self.group!r}, bits={self.bits}, fingerprint={self.fingerprint!r})"


class DHPrivateKey:
    """A Diffie-Hellman or X25519 private key. Its repr shows the public part only.

    Attributes:
        cryptography_key: the pyca/cryptography private key.
        group: the key's group name.
        bits: as for :class:`DHPublicKey`.

    """

    __slots__ = ("_public", "bits", "cryptography_key", "group")

    def __init__(self, cryptography_key: Any) -> None:
        if not (isinstance(cryptography_key, x25519.X25519PrivateKey) or _ffdh.is_private_key(cryptography_key)):
            raise ArgumentTypeError(
                f"a DHPrivateKey wraps a pyca DH or X25519 private key, not {type(cryptography_key).__name__}"
            )
        self.cryptography_key = cryptography_key
        self.group, self.bits = _describe(cryptography_key)
        self._public = DHPublicKey(cryptography_key.public_key())

    def public_key(self) -> DHPublicKey:
        """Return the matching public key handle."""
        return self._public

    def __repr__(self) -> str:
        return f"DHPrivateKey(group={self.group!r}, bits={self.bits}, public_fingerprint={self._public.fingerprint!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a DHPrivateKey cannot be pickled: it holds a secret")


def generate_key_pair(group: str = "ffdhe2048") -> tuple[DHPrivateKey, DHPublicKey]:
    """Make a key pair in a fixed, published group.

    Args:
        group: one of :data:`GROUPS`.

    Returns:
        ``(private_key, public_key)`` handles.

    Raises:
        InvalidInputError: ``group`` is not one of :data:`GROUPS`.

    """
    _checks.choice(group, "group", GROUPS)
    raw = x25519.X25519PrivateKey.generate() if group == "x25519" else _ffdh.generate_private_key(group)
    private = DHPrivateKey(raw)
    return private, private.public_key()


def generate_teaching_key_pair(key_size: int = 512) -> tuple[DHPrivateKey, DHPublicKey]:
    """For teaching only: generate fresh finite-field parameters, then a key pair in them.

    This is what the original description's ``generate_diffie_hellman_params_and_key`` did.
    It shows why kmslib uses fixed groups instead: generating a safe prime takes long (fractions
    of a second at 512 bits, seconds to minutes at 2048), and 512 to 1024 bits are far too small
    for real secrets. The group is named ``"custom-<bits>"``; the peer must use the same parameters.

    Args:
        key_size: 512 to 1024 bits.

    Returns:
        ``(private_key, public_key)`` handles.

    Raises:
        InvalidInputError: ``key_size`` is outside 512 to 1024.
    """
    if isinstance(key_size, bool) or not isinstance(key_size, int):
        raise ArgumentTypeError(f"key_size must be an int, not {type(key_size).__name__}")
    try:
        parameters = _ffdh.generate_parameters(key_size)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    private = DHPrivateKey(parameters.generate_private_key())
    return private, private.public_key()


def public_key_from_y(group: str, y: int) -> DHPublicKey:
    """Make a finite-field public key from a raw value ``y``, without validating it.

    For demonstrations and tests of peer-key validation: ``derive_shared_key`` rejects
    y = 1, y = p - 1 and values outside the prime-order subgroup.

    Args:
        group: ``"ffdhe2048"``, ``"ffdhe3072"`` or ``"ffdhe4096"``.
        y: the public value, 0 <= y.

    Returns:
        A :class:`DHPublicKey` handle.

    Raises:
        InvalidInputError: an unknown group, or a negative ``y``.
    """
    _checks.choice(group, "group", tuple(_ffdh.FF_GROUPS))
    if isinstance(y, bool) or not isinstance(y, int):
        raise ArgumentTypeError(f"y must be an int, not {type(y).__name__}")
    if y < 0:
        raise InvalidInputError("y must not be negative")
    return DHPublicKey(_ffdh.public_key(group, y))


#: Every pyca asymmetric key class: a key of another kind is a wrong key, not a wrong type.
_PYCA_KEYS = (*get_args(PublicKeyTypes), *get_args(PrivateKeyTypes))


def _private(key: object) -> Any:
    """Our own private key, as a pyca key.

    One rule (see :mod:`kmslib.errors`): a key of another kind, as an object or as PEM, is an
    ``InvalidInputError``; a value that is no key at all, an ``ArgumentTypeError``.
    """
    if isinstance(key, DHPrivateKey):
        return key.cryptography_key
    if isinstance(key, DHPublicKey):
        raise InvalidInputError("private_key is a public key: pass the private key of your own key pair")
    if isinstance(key, (str, bytes, bytearray, memoryview)):  # unencrypted PKCS#8 PEM
        try:
            key = _ffdh.load_pem_private_key(_checks.text_or_bytes_pem(key, "private_key"), None)
        except (TypeError, ValueError):
            key = None
        if key is None:
            raise InvalidInputError("private_key is not an unencrypted PEM private key")
    if isinstance(key, x25519.X25519PrivateKey) or _ffdh.is_private_key(key):
        return key
    if isinstance(key, _PYCA_KEYS):
        what = "a public key" if isinstance(key, get_args(PublicKeyTypes)) else f"a {type(key).__name__}"
        raise InvalidInputError(f"private_key is {what}, not a Diffie-Hellman or X25519 private key")
    raise ArgumentTypeError(
        f"private_key must be a DHPrivateKey, a pyca DH/X25519 private key or PEM text, not {type(key).__name__}"
    )


def _public(key: object, name: str = "peer_public_key") -> Any:
    """A peer's public key, as a pyca key.

    One rule (see :mod:`kmslib.errors`): a key of another kind, as an object or as PEM (RSA, EC, a
    private key), is an ``InvalidPeerKeyError``; a value that is no key at all, an ``ArgumentTypeError``.
    """
    if isinstance(key, DHPublicKey):
        return key.cryptography_key
    if isinstance(key, (str, bytes, bytearray, memoryview)):
        return load_public_key(key).cryptography_key
    if isinstance(key, x25519.X25519PublicKey) or _ffdh.is_public_key(key):
        return key
    if type(key).__name__ in ("HybridPublicKey", "KeyExchangeReply", "HybridPrivateKey"):
        raise InvalidPeerKeyError(f"{name} is of the group x25519mlkem768; ours is finite-field or X25519")
    if isinstance(key, (DHPrivateKey, *get_args(PrivateKeyTypes))):
        raise InvalidPeerKeyError(f"{name} is a private key: the peer sends only its public key")
    if isinstance(key, _PYCA_KEYS):
        raise InvalidPeerKeyError(f"{name} is a {type(key).__name__}, not a Diffie-Hellman or X25519 public key")
    raise ArgumentTypeError(
        f"{name} must be a DHPublicKey, a pyca DH/X25519 public key or PEM text, not {type(key).__name__}"
    )


def load_public_key(pem: str | bytes | bytearray | memoryview) -> DHPublicKey:
    """Load a Diffie-Hellman or X25519 public key from SubjectPublicKeyInfo PEM.

    Args:
        pem: the PEM text, as ``str`` or bytes.

    Returns:
        A :class:`DHPublicKey` handle.

    Raises:
        ArgumentTypeError: ``pem`` is neither ``str`` nor bytes.
        InvalidPeerKeyError: the text is not a PEM public key, or not a DH or X25519 one.

    """
    raw = _checks.text_or_bytes_pem(pem, "pem")
    try:
        key = _ffdh.load_pem_public_key(raw)
    except ValueError:
        raise InvalidPeerKeyError("the text is not a PEM public key") from None
    if not (isinstance(key, x25519.X25519PublicKey) or _ffdh.is_public_key(key)):
        raise InvalidPeerKeyError(f"the PEM holds a {type(key).__name__}, not a Diffie-Hellman or X25519 public key")
    return DHPublicKey(key)


def public_key_pem(key: Any) -> str:
    """Return a public key as SubjectPublicKeyInfo PEM text.

    Args:
        key: a :class:`DHPublicKey` or :class:`DHPrivateKey` handle, any pyca public or
            private key (for a private key, its public half), or DH/X25519 public PEM text.

    Returns:
        The PEM text.

    Raises:
        ArgumentTypeError: ``key`` is none of those.
        InvalidPeerKeyError: PEM text that is not a DH or X25519 public key.

    """
    if isinstance(key, (str, bytes, bytearray, memoryview)):
        key = load_public_key(key)
    if isinstance(key, (DHPublicKey, DHPrivateKey)):
        key = key.cryptography_key
    if hasattr(key, "public_key") and callable(key.public_key):
        key = key.public_key()
    if not hasattr(key, "public_bytes"):
        raise ArgumentTypeError(f"key must be a key handle or a pyca key, not {type(key).__name__}")
    pem: bytes = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def shared_secret(private_key: object, peer_public_key: object) -> bytes:
    """Validate the peer's key and return the raw shared secret.

    Args:
        private_key: our private key (handle or pyca key).
        peer_public_key: the peer's public key (handle, pyca key or PEM text).

    Returns:
        The shared secret: 32 bytes for X25519, the byte length of p for a finite field.

    Raises:
        ArgumentTypeError: a key of the wrong Python type.
        InvalidPeerKeyError: the peer's key fails validation, or is of another group.

    """
    mine = _private(private_key)
    theirs = _public(peer_public_key)
    if isinstance(mine, x25519.X25519PrivateKey):
        if not isinstance(theirs, x25519.X25519PublicKey):
            raise InvalidPeerKeyError("the peer's public key is not an X25519 key, but ours is")
        try:
            secret = mine.exchange(theirs)
        except ValueError:
            secret = b""
        if not any(secret):  # RFC 7748 section 6.1: reject the all-zero shared secret
            raise InvalidPeerKeyError("the peer's X25519 key is a low-order point (the shared secret is all zero)")
        return secret
    if not _ffdh.is_public_key(theirs):
        raise InvalidPeerKeyError("the peer's public key is an X25519 key, but ours is finite-field Diffie-Hellman")
    return _ffdh.exchange(mine, theirs)


def derive_key_bytes(private_key: object, peer_public_key: object, info: bytes = DEFAULT_INFO) -> bytes:
    """Run the exchange and derive 32 key bytes with HKDF-SHA256 (no salt, ``info``).

    Args:
        private_key: our private key (handle or pyca key).
        peer_public_key: the peer's public key (handle, pyca key or PEM text).
        info: HKDF's context string.

    Returns:
        32 bytes, the same on both sides of the exchange.

    Raises:
        ArgumentTypeError: a key of the wrong Python type.
        InvalidPeerKeyError: the peer's key fails validation.

    """
    return kdf(shared_secret(private_key, peer_public_key), info)


def kdf(secret: bytes, info: bytes = DEFAULT_INFO) -> bytes:
    """32 key bytes from a shared secret: HKDF-SHA256 (RFC 5869), no salt, ``info``."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
