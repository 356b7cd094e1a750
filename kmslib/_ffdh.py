"""Finite-field Diffie-Hellman: every FFDH call kmslib makes, in this one module.

pyca/cryptography 50 deprecated finite-field DH (``CryptographyDeprecationWarning``) and is
moving it to ``cryptography.hazmat.decrepit.asymmetric.dh``. This module imports from
``decrepit`` where it exists; elsewhere it binds the few names it needs once, at import,
with that one warning silenced for that one moment, so that no user of kmslib ever sees it.
Loading a DH key from PEM warns too, from inside pyca, attributed to the caller: so every
PEM key kmslib loads (any PEM may hold a DH key) is loaded here, under one warnings filter
that matches this module only. No filter is installed for any other module.
X25519, in :mod:`kmslib.dh`, is where the field is going.

The groups are RFC 7919's ``ffdhe2048``, ``ffdhe3072`` and ``ffdhe4096``: safe primes
p = 2q + 1 with generator 2, published and fixed. Generating parameters instead costs
seconds to minutes, and a fixed published group is what TLS 1.3 uses.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning

from kmslib.errors import InvalidPeerKeyError

try:  # pragma: no cover - which branch runs depends on the installed cryptography
    from cryptography.hazmat.decrepit.asymmetric import dh as _dh  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric import dh as _dh

with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    _ParameterNumbers: Any = _dh.DHParameterNumbers
    _PublicNumbers: Any = _dh.DHPublicNumbers
    _PrivateKey: Any = _dh.DHPrivateKey
    _PublicKey: Any = _dh.DHPublicKey
    _generate_parameters: Any = _dh.generate_parameters

# Silences pyca's FFDH deprecation for calls made from this module, and from nowhere else.
warnings.filterwarnings(
    "ignore",
    message="Diffie-Hellman over finite fields",
    category=CryptographyDeprecationWarning,
    module=r"kmslib\._ffdh\Z",
)

__all__ = [
    "FF_GROUPS",
    "exchange",
    "generate_private_key",
    "group_name",
    "is_private_key",
    "is_public_key",
    "load_pem_private_key",
    "load_pem_public_key",
    "public_key",
    "raw_public",
]

_FFDHE2048 = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF",
    16,
)
_FFDHE3072 = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B66C62E37FFFFFFFFFFFFFFFF",
    16,
)
_FFDHE4096 = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B669E1EF16E6F52C3164DF4FB"
    "7930E9E4E58857B6AC7D5F42D69F6D187763CF1D5503400487F55BA57E31CC7A"
    "7135C886EFB4318AED6A1E012D9E6832A907600A918130C46DC778F971AD0038"
    "092999A333CB8B7A1A1DB93D7140003C2A4ECEA9F98D0ACC0A8291CDCEC97DCF"
    "8EC9B55A7F88A46B4DB5A851F44182E1C68A007E5E655F6AFFFFFFFFFFFFFFFF",
    16,
)

GENERATOR = 2
#: The RFC 7919 groups by name: their safe primes p (the generator is 2 for each).
FF_GROUPS: dict[str, int] = {"ffdhe2048": _FFDHE2048, "ffdhe3072": _FFDHE3072, "ffdhe4096": _FFDHE4096}


@cache
def _parameters(group: str) -> Any:
    return _ParameterNumbers(FF_GROUPS[group], GENERATOR).parameters()


def generate_private_key(group: str) -> Any:
    """Return a fresh pyca DH private key in the RFC 7919 group ``group``."""
    return _parameters(group).generate_private_key()


def generate_parameters(key_size: int) -> Any:
    """Generate fresh DH parameters (a teaching option only: slow, and never the default).

    Args:
        key_size: the bit length of p; 512 to 1024 here, to keep it to seconds.

    Returns:
        pyca DH parameters, whose ``generate_private_key()`` makes keys in that new group.

    """
    if not 512 <= key_size <= 1024:
        raise ValueError("teaching parameters are 512 to 1024 bits; use an RFC 7919 group for real keys")
    return _generate_parameters(generator=GENERATOR, key_size=key_size)


def public_key(group: str, y: int) -> Any:
    """Build a pyca public key with the raw value ``y`` in an RFC 7919 group, unvalidated.

    For showing what validation rejects (y = 1, y = p - 1, ...); :func:`exchange` checks it.
    """
    return _PublicNumbers(y, _ParameterNumbers(FF_GROUPS[group], GENERATOR)).public_key()


def is_private_key(key: object) -> bool:
    """Whether ``key`` is a pyca finite-field DH private key."""
    return isinstance(key, _PrivateKey)


def is_public_key(key: object) -> bool:
    """Whether ``key`` is a pyca finite-field DH public key."""
    return isinstance(key, _PublicKey)


def group_name(key: Any) -> str:
    """The RFC 7919 name of a DH key's group, or ``"custom-<bits>"`` for other parameters."""
    numbers = key.parameters().parameter_numbers()
    for name, p in FF_GROUPS.items():
        if numbers.p == p and numbers.g == GENERATOR:
            return name
    return f"custom-{key.key_size}"


def exchange(private_key: Any, peer_public_key: Any) -> bytes:
    """Validate the peer's public key and return the shared secret, left-padded to the size of p.

    The checks (NIST SP 800-56A's full public-key validation for safe-prime groups):
    both keys are in the same group; 1 < y < p - 1; y^q = 1 mod p with q = (p - 1) / 2,
    which puts y in the prime-order subgroup.

    Raises:
        InvalidPeerKeyError: the peer key fails any check.

    """
    mine = private_key.parameters().parameter_numbers()
    theirs = peer_public_key.parameters().parameter_numbers()
    if (mine.p, mine.g) != (theirs.p, theirs.g):
        raise InvalidPeerKeyError("the peer's public key is from another Diffie-Hellman group")
    p = int(mine.p)
    y = int(peer_public_key.public_numbers().y)
    if not 1 < y < p - 1:
        raise InvalidPeerKeyError("the peer's public value y is out of range (it must be 1 < y < p - 1)")
    if pow(y, (p - 1) // 2, p) != 1:
        raise InvalidPeerKeyError("the peer's public value y is not in the prime-order subgroup")
    try:
        secret: bytes = private_key.exchange(peer_public_key)
    except ValueError:
        raise InvalidPeerKeyError("the peer's public key was rejected by the key exchange") from None
    return secret.rjust((p.bit_length() + 7) // 8, b"\0")


def raw_public(public_key: Any) -> bytes:
    """The public value y as TLS 1.3 sends it: big-endian, left-padded with zeros to the byte length of p.

    RFC 8446 section 4.2.8.1; a key exchange's transcript (:mod:`kmslib.kex`) holds these bytes.

    Raises:
        InvalidPeerKeyError: y is not below p, so it has no such encoding (and :func:`exchange` refuses it).
    """
    numbers = public_key.public_numbers()
    p, y = int(numbers.parameter_numbers.p), int(numbers.y)
    if y >= p:
        raise InvalidPeerKeyError("the peer's public value y is out of range (it must be 1 < y < p - 1)")
    return y.to_bytes((p.bit_length() + 7) // 8, "big")


def load_pem_public_key(pem: bytes) -> Any:
    """Load any PEM public key (a DH key among them) without pyca's FFDH warning.

    Raises:
        ValueError: the PEM is not a public key pyca can load.

    """
    try:
        return serialization.load_pem_public_key(pem)
    except (TypeError, ValueError) as exc:
        raise ValueError("not a PEM public key") from exc


def load_pem_private_key(pem: bytes, password: bytes | None) -> Any:
    """Load any PEM private key without pyca's FFDH warning.

    Raises:
        TypeError: a password was given for an unencrypted key, or none for an encrypted one.
        ValueError: the PEM is not a private key, or the password is wrong.

    """
    return serialization.load_pem_private_key(pem, password)
