"""The token format: one self-describing ASCII string per ciphertext.

::

    kms:v<version>:<algorithm>:<payload>

``version`` is the key version that encrypted it (a decimal integer from 1, no leading
zeros), ``algorithm`` one of :data:`ALGORITHMS`, and ``payload`` canonical standard base64
(RFC 4648 section 4, with ``=`` padding) of:

- ``aes-256-gcm``: nonce (12 bytes) || ciphertext || tag (16 bytes);
- ``aes-256-cbc``: IV (16 bytes) || ciphertext (PKCS7-padded, a multiple of 16 bytes);
- ``rsa-oaep-sha256`` and ``rsa-pkcs1v15``: the raw RSA ciphertext (modulus-size bytes).

Anyone who knows a key can build or read a token without kmslib; :func:`inspect_token`
breaks one into its public parts without any key.

Parsing is strict and cheap: a short regular expression reads a header the first time it is
seen; the payload is decoded by the standard library's strict base64 decoder (or, when the
optional ``pybase64`` package is installed, its SIMD decoder, which accepts exactly the same
strings); and only canonical base64 is accepted: the character before the padding is the only
one that can carry unused bits, and they must be zero.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

from kmslib.errors import ArgumentTypeError, DecryptionError

__all__ = [
    "AES_CBC",
    "AES_GCM",
    "ALGORITHMS",
    "RSA_OAEP",
    "RSA_PKCS1V15",
    "TokenInfo",
    "payload_encoder",
    "format_token",
    "header",
    "inspect_token",
    "parse_exact",
    "parse_token",
]

AES_GCM = "aes-256-gcm"
AES_CBC = "aes-256-cbc"
RSA_OAEP = "rsa-oaep-sha256"
RSA_PKCS1V15 = "rsa-pkcs1v15"
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256-sha256"
RSA_PSS = "rsa-pss-sha256"
ML_DSA_65 = "ml-dsa-65"
#: Every algorithm a token may name: encryption (section 3) and signatures (section 8).
ALGORITHMS = (AES_GCM, AES_CBC, RSA_OAEP, RSA_PKCS1V15, ED25519, ECDSA_P256, RSA_PSS, ML_DSA_65)

GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
CBC_IV_BYTES = 16
CBC_BLOCK_BYTES = 16

_HEADER = re.compile(r"kms:v(?P<version>[1-9][0-9]{0,8}):(?P<algorithm>[a-z0-9-]{1,32}):")
_SPACE = " \t\r\n"  # a pasted token may carry a newline

Encode = Callable[[bytes | bytearray], str]
#: A strict decoder, called as pybase64's is: ``decode(text, altchars=None, validate=True)``.
Decode = Callable[[str, None, bool], bytes]
_codec: tuple[Encode, Decode] | None = None


def stdlib_codec() -> tuple[Encode, Decode]:
    """The standard library's base64 encoder (to text) and strict decoder."""

    def decode(text: str, altchars: None = None, validate: bool = True) -> bytes:  # pybase64's signature
        return binascii.a2b_base64(text, strict_mode=validate)

    return lambda data: binascii.b2a_base64(data, newline=False).decode("ascii"), decode


def pybase64_codec() -> tuple[Encode, Decode]:
    """pybase64's SIMD encoder and validating decoder (the same strings pass and fail as in the stdlib).

    Raises:
        ImportError: pybase64 is not installed (``pip install kmslib[fast]``).
    """
    import pybase64  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415 - optional, loaded on first use

    return pybase64.b64encode_as_string, pybase64.b64decode


def _base64() -> tuple[Encode, Decode]:
    """The codec in use: pybase64's if it is installed, else the standard library's; chosen on first use."""
    global _codec  # noqa: PLW0603 - chosen once, lazily, so that import kmslib loads nothing more
    if _codec is None:
        try:
            _codec = pybase64_codec()
        except ImportError:
            _codec = stdlib_codec()
    return _codec


def header(version: int, algorithm: str) -> str:
    """Return a token's clear-text header, ``kms:v<version>:<algorithm>:``."""
    return f"kms:v{version}:{algorithm}:"


def payload_encoder() -> Encode:
    """The function that turns a payload into the part of a token after its header (padded base64).

    Choosing it loads ``pybase64`` if it is installed (``import kmslib`` alone never does); a
    caller on a hot path keeps it rather than asking each time.
    """
    return (_codec or _base64())[0]


def format_token(version: int, algorithm: str, payload: bytes | bytearray) -> str:
    """Return the token for ``payload`` made by ``version`` of a key of ``algorithm``.

    Args:
        version: the key version, from 1.
        algorithm: one of :data:`ALGORITHMS`.
        payload: the bytes the format describes for that algorithm.

    Returns:
        The ASCII token ``kms:v<version>:<algorithm>:<base64 payload>``.
    """
    return header(version, algorithm) + payload_encoder()(payload)


def parse_token(token: object) -> tuple[int, str, bytes]:
    """Split a token into ``(version, algorithm, payload)``, checking only its syntax.

    Spaces and newlines around the token (as pasting leaves them) are ignored. Only canonical
    base64 is accepted, whichever codec is in use: exactly the padding its length needs, and
    zero unused bits.

    Args:
        token: the token string.

    Returns:
        The version, the algorithm name and the decoded payload.

    Raises:
        ArgumentTypeError: ``token`` is not a ``str``.
        DecryptionError: the token is malformed (the one message of every decryption failure,
            with no cause: ``__cause__`` and ``__context__`` are ``None``).
    """
    if type(token) is not str:
        if not isinstance(token, str):
            raise ArgumentTypeError(f"token must be a str, not {type(token).__name__}")
        token = str.__str__(token)
    # The header ends at the first colon from _ALGORITHM_COLON on (base64 has no colons).
    end = token.find(":", _ALGORITHM_COLON, 48) + 1
    text = token[:end]
    head = _HEADERS.get(text) or _read_header(text)
    if head is None and token.startswith("kms:v"):  # a 9-digit version's colon is where the search starts
        end = token.find(":", token.find(":", 5) + 1, 48) + 1
        text = token[:end]
        head = _read_header(text)
    body = token[end:]
    payload = b""
    if head is not None:
        try:
            payload = (_codec or _base64())[1](body, None, True)
        except (ValueError, TypeError):  # binascii.Error, and text that is not ASCII
            payload = b""
    # Only canonical base64 is a token (else two strings would name one ciphertext): exactly the
    # padding the payload's length needs (the standard library's strict mode lets "AAAA=" pass),
    # and the character before the padding must leave its unused low bits zero.
    rest = len(payload) % 3  # 1: "xy==", 2: "xyz="
    if (
        head is not None
        and payload
        and len(body) == (len(payload) + 2) // 3 * 4
        and (not rest or body[rest - 4] in _ZERO_LOW_BITS[rest])
    ):
        return head[0], head[1], payload
    stripped = token.strip(_SPACE)
    if stripped != token:
        return parse_token(stripped)
    raise DecryptionError()  # outside any except block: it has no context


def parse_exact(token: str) -> tuple[int, str, bytes] | None:
    """Like :func:`parse_token`, but only for the one canonical encoding of a token; ``None`` for any other.

    :func:`parse_token` ignores spaces and newlines around a pasted token. Where a token is part of
    a binary format (an envelope's header), one byte string must name one ciphertext, so the token
    must be exactly what :func:`format_token` makes of its parts: no surrounding whitespace, canonical
    base64. It is checked by encoding the parts again and comparing.

    Args:
        token: the token string.

    Returns:
        The version, the algorithm name and the decoded payload, or ``None``.
    """
    try:
        parsed = parse_token(token)
    except DecryptionError:
        return None
    return parsed if format_token(*parsed) == token else None


#: The base64 alphabet, in value order. A canonical encoding leaves the unused low bits of the
#: character before its padding zero: four bits before ``==`` (every sixteenth character of the
#: alphabet qualifies), two before ``=`` (every fourth).
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ZERO_LOW_BITS = ("", _ALPHABET[::16], _ALPHABET[::4])
#: Where the colon after the algorithm can first be ("kms:v1:" and the shortest name). Only a version
#: of 9 digits puts its own colon there or later; parse_token looks again for that one.
_ALGORITHM_COLON = len("kms:v1:") + min(map(len, ALGORITHMS))


#: Headers already checked, so that the regular expression runs once per key version and algorithm.
_HEADERS: dict[str, tuple[int, str]] = {}


def _read_header(header: str) -> tuple[int, str] | None:
    match = _HEADER.fullmatch(header)
    if match is None or match["algorithm"] not in ALGORITHMS:
        return None
    parsed = int(match["version"]), match["algorithm"]
    if len(_HEADERS) < 4096:  # bounded: headers are few (versions x algorithms), garbage is not kept
        _HEADERS[header] = parsed
    return parsed


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """The public parts of a token, as :func:`inspect_token` finds them.

    Attributes:
        version: the key version that made the token.
        algorithm: the token's algorithm name.
        nonce: the GCM nonce or the CBC IV; ``None`` for RSA.
        ciphertext: the ciphertext proper (for CBC, padded; for RSA, the whole payload).
        tag: the GCM authentication tag; ``None`` for the other algorithms.

    """

    version: int
    algorithm: str
    nonce: bytes | None
    ciphertext: bytes
    tag: bytes | None

    @property
    def header(self) -> str:
        """The token's clear-text header, ``kms:v<version>:<algorithm>:``."""
        return header(self.version, self.algorithm)

    @property
    def nonce_name(self) -> str | None:
        """What the :attr:`nonce` field is called for this algorithm: ``"nonce"``, ``"IV"`` or ``None``."""
        return {AES_GCM: "nonce", AES_CBC: "IV"}.get(self.algorithm)

    @property
    def ciphertext_length(self) -> int:
        """The length of the ciphertext proper, in bytes."""
        return len(self.ciphertext)

    def __repr__(self) -> str:
        parts = [f"version={self.version}", f"algorithm={self.algorithm!r}"]
        if self.nonce is not None:
            parts.append(f"{self.nonce_name}={self.nonce.hex()!r}")
        parts.append(f"ciphertext_length={self.ciphertext_length}")
        if self.tag is not None:
            parts.append(f"tag={self.tag.hex()!r}")
        return f"TokenInfo({', '.join(parts)})"


def split_payload(algorithm: str, payload: bytes) -> tuple[bytes | None, bytes, bytes | None]:
    """Split a payload into ``(nonce or IV, ciphertext, tag)`` by the algorithm's layout.

    Raises:
        DecryptionError: the payload is too short, or not whole blocks for CBC.

    """
    if algorithm == AES_GCM:
        if len(payload) < GCM_NONCE_BYTES + GCM_TAG_BYTES:
            raise DecryptionError()
        return payload[:GCM_NONCE_BYTES], payload[GCM_NONCE_BYTES:-GCM_TAG_BYTES], payload[-GCM_TAG_BYTES:]
    if algorithm == AES_CBC:
        body = payload[CBC_IV_BYTES:]
        if not body or len(body) % CBC_BLOCK_BYTES:
            raise DecryptionError()
        return payload[:CBC_IV_BYTES], body, None
    return None, payload, None


def inspect_token(token: str) -> TokenInfo:
    """Break a token into its public parts, without any key.

    Args:
        token: a kmslib token.

    Returns:
        A :class:`TokenInfo` with the version, algorithm, nonce or IV, ciphertext and tag.

    Raises:
        ArgumentTypeError: ``token`` is not a ``str``.
        DecryptionError: the token is malformed (the same error decryption raises).

    """
    version, algorithm, payload = parse_token(token)
    nonce, ciphertext, tag = split_payload(algorithm, payload)
    return TokenInfo(version, algorithm, nonce, ciphertext, tag)
