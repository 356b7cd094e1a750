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
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from kmslib.errors import ArgumentTypeError, DecryptionError

__all__ = [
    "AES_CBC",
    "AES_GCM",
    "ALGORITHMS",
    "RSA_OAEP",
    "RSA_PKCS1V15",
    "TokenInfo",
    "format_token",
    "inspect_token",
    "parse_token",
]

AES_GCM = "aes-256-gcm"
AES_CBC = "aes-256-cbc"
RSA_OAEP = "rsa-oaep-sha256"
RSA_PKCS1V15 = "rsa-pkcs1v15"
ALGORITHMS = (AES_GCM, AES_CBC, RSA_OAEP, RSA_PKCS1V15)

GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
CBC_IV_BYTES = 16
CBC_BLOCK_BYTES = 16

_TOKEN = re.compile(
    r"kms:v(?P<version>[1-9][0-9]{0,8}):(?P<algorithm>[a-z0-9-]{1,32}):(?P<payload>[A-Za-z0-9+/]*={0,2})"
)


def format_token(version: int, algorithm: str, payload: bytes) -> str:
    """Return the token for ``payload`` made by ``version`` of a key of ``algorithm``.

    Args:
        version: the key version, from 1.
        algorithm: one of :data:`ALGORITHMS`.
        payload: the bytes the format describes for that algorithm.

    Returns:
        The ASCII token ``kms:v<version>:<algorithm>:<base64 payload>``.

    """
    return f"kms:v{version}:{algorithm}:{base64.b64encode(payload).decode('ascii')}"


def parse_token(token: object) -> tuple[int, str, bytes]:
    """Split a token into ``(version, algorithm, payload)``, checking only its syntax.

    Args:
        token: the token string.

    Returns:
        The version, the algorithm name and the decoded payload.

    Raises:
        ArgumentTypeError: ``token`` is not a ``str``.
        DecryptionError: the token is malformed (the one message of every decryption failure).

    """
    if not isinstance(token, str):
        raise ArgumentTypeError(f"token must be a str, not {type(token).__name__}")
    match = _TOKEN.fullmatch(token.strip(" \t\r\n"))  # a pasted token may carry a newline
    if match is None or match["algorithm"] not in ALGORITHMS:
        raise DecryptionError()
    text = match["payload"]
    try:
        payload = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError() from None
    # Only the canonical encoding is a token: otherwise two strings (differing in the
    # unused low bits of the last character) would name one ciphertext.
    if base64.b64encode(payload).decode("ascii") != text or not payload:
        raise DecryptionError()
    return int(match["version"]), match["algorithm"], payload


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
        return f"kms:v{self.version}:{self.algorithm}:"

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
