r"""Envelope encryption: data keys, and the binary envelope that carries data encrypted under one.

Real KMSs encrypt little data themselves (AWS KMS ``Encrypt`` takes at most 4 KiB): they wrap
*data keys*, and the data is encrypted where it lives. The recipe, whole (contract section 7):

- a fresh 32-byte data key from the OS CSPRNG;
- the data key wrapped by the key-encryption key (KEK, an AES-256-GCM key of the custodian) as a
  section-3 token, with associated data = the caller's associated data (empty when none);
- the data encrypted with AES-256-GCM under the data key, with associated data = ``b"KMSE\\x01"``
  followed by the caller's associated data, and a fresh 12-byte nonce;
- one binary envelope::

      b"KMSE" | 0x01 | n: uint16 big-endian | wrapped: n bytes (the ASCII token) | nonce: 12 bytes
           | ciphertext | tag: 16 bytes

Anyone holding the KEK can read or build an envelope with raw pyca/cryptography. Rotating the KEK
never touches the data: :meth:`~kmslib.KeyCustodian.rewrap_envelope` re-wraps only the data key,
after checking that the envelope is genuine (one AES-GCM decryption of the body, whose plaintext is
discarded).

One envelope has one encoding: the wrapped token must be exactly the canonical token
(:func:`kmslib.tokens.parse_exact`), so no two byte strings decrypt as the same envelope.

Sizes: pyca/cryptography's ``AESGCM`` refuses data or associated data longer than 2^31 - 1 bytes
(it raises ``OverflowError``), so an envelope holds at most :data:`MAX_DATA_BYTES` bytes of data,
and data keys and envelopes take at most :data:`MAX_ASSOCIATED_DATA_BYTES` bytes of associated data
(the data's associated data is the caller's, after the 5-byte :data:`HEADER`). Larger inputs are
refused with :class:`~kmslib.errors.MessageTooLongError` before any cryptography. The associated data
is never stored in the envelope: its header holds only the wrapped data key, a token of at most
:data:`MAX_WRAPPED_BYTES` characters, which always fits the 16-bit length.

Each message gets its own data key, so each data key makes one AES-GCM invocation. The KEK makes
one per data key it wraps (and per rewrap), and NIST SP 800-38D, section 8.3, caps a key at 2^32
invocations under random nonces: each KEK version counts its invocations and, at the limit,
refuses with :class:`~kmslib.errors.KeyStateError` until the key is rotated (see :mod:`kmslib.usage`).

The data is encrypted into a buffer allocated once, at its final size, so that encrypting takes the
input plus the output plus a small constant; that buffer, a ``bytearray``, is what is returned
(turning it into ``bytes`` would copy the whole envelope). Functions here answer ``None`` rather
than raise (see :mod:`kmslib._material`); the custodian raises the one
:class:`~kmslib.errors.DecryptionError`.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DATA_KEY_BYTES",
    "HEADER",
    "MAGIC",
    "MAX_ASSOCIATED_DATA_BYTES",
    "MAX_DATA_BYTES",
    "MAX_WRAPPED_BYTES",
    "DataKey",
    "authentic",
    "open_data",
    "seal_data",
    "split",
    "too_long",
]

MAGIC = b"KMSE"
#: The format's version byte, and the prefix of the data's associated data.
HEADER = MAGIC + b"\x01"
DATA_KEY_BYTES = 32
_NONCE = 12
_TAG = 16
#: How much of the body :func:`authentic` decrypts at a time.
_CHUNK = 1 << 16
_LENGTH = struct.Struct(">H")
#: The most data one envelope holds: pyca/cryptography's ``AESGCM`` refuses more than 2**31 - 1 bytes.
MAX_DATA_BYTES = 2**31 - 1
#: The most associated data a data key or an envelope takes: the data's associated data is
#: :data:`HEADER` followed by the caller's, and pyca/cryptography's ``AESGCM`` refuses more than 2**31 - 1 bytes.
MAX_ASSOCIATED_DATA_BYTES = 2**31 - 1 - len(HEADER)
#: The longest wrapped data key: the token of 12 + 32 + 16 bytes under a 9-digit version, the longest a token names.
MAX_WRAPPED_BYTES = len("kms:v999999999:aes-256-gcm:") + (12 + DATA_KEY_BYTES + 16 + 2) // 3 * 4
#: The shortest envelope: header, length, a wrapped token of at least one byte, nonce and tag.
_SHORTEST = len(HEADER) + _LENGTH.size + 1 + _NONCE + _TAG


class DataKey:
    """A data key: its 32 bytes, and the same bytes wrapped by the KEK (a section-3 token).

    Use :attr:`plaintext` to encrypt, keep :attr:`wrapped` beside the data, and drop the plaintext
    (Python cannot wipe ``bytes``: keep the object's lifetime short). Its repr never shows the key.

    Attributes:
        key_id: the KEK's id.
        version: the KEK version that wrapped it.
        plaintext: the 32 key bytes.
        wrapped: the token of those bytes under the KEK.
    """

    __slots__ = ("key_id", "plaintext", "version", "wrapped")

    def __init__(self, key_id: str, version: int, plaintext: bytes, wrapped: str) -> None:
        self.key_id = key_id
        self.version = version
        self.plaintext = plaintext
        self.wrapped = wrapped

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id!r}, version={self.version}, plaintext=<32 bytes, hidden>, wrapped=...)"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a DataKey cannot be pickled: it holds a secret")


def seal_data(data_key: bytes, wrapped: str, data: memoryview, associated_data: bytes) -> bytearray:
    """Encrypt ``data`` under ``data_key`` into a new envelope that carries ``wrapped``.

    Args:
        data_key: 32 bytes.
        wrapped: the data key's token under the KEK (ASCII).
        data: the plaintext (a view: it is not copied).
        associated_data: the caller's associated data (``b""`` for none).

    Returns:
        The envelope, in the one buffer the data was encrypted into.
    """
    token = wrapped.encode("ascii")
    start = len(HEADER) + _LENGTH.size + len(token)
    out = bytearray(start + _NONCE + len(data) + _TAG)
    out[: len(HEADER)] = HEADER
    _LENGTH.pack_into(out, len(HEADER), len(token))
    out[len(HEADER) + _LENGTH.size : start] = token
    nonce = os.urandom(_NONCE)
    out[start : start + _NONCE] = nonce
    AESGCM(data_key).encrypt_into(nonce, data, HEADER + associated_data, memoryview(out)[start + _NONCE :])
    return out


def too_long(data_length: int, associated_data_length: int) -> str | None:
    """The message of the error for data or associated data over the limits, or ``None`` if both fit."""
    if data_length > MAX_DATA_BYTES:
        return f"the data is {data_length} bytes; an envelope holds at most {MAX_DATA_BYTES} bytes"
    if associated_data_length > MAX_ASSOCIATED_DATA_BYTES:
        return (
            f"associated_data is {associated_data_length} bytes; data keys and envelopes take at most "
            f"{MAX_ASSOCIATED_DATA_BYTES} bytes"
        )
    return None


def split(envelope: memoryview) -> tuple[str, memoryview] | None:
    """``(wrapped token, nonce || ciphertext || tag)`` of an envelope, or ``None`` if it is malformed."""
    if len(envelope) < _SHORTEST or envelope[: len(HEADER)] != HEADER:
        return None
    (length,) = _LENGTH.unpack_from(envelope, len(HEADER))
    start = len(HEADER) + _LENGTH.size + length
    if not 0 < length <= MAX_WRAPPED_BYTES or len(envelope) < start + _NONCE + _TAG:
        return None
    token = bytes(envelope[len(HEADER) + _LENGTH.size : start])
    if not token.isascii():
        return None
    return token.decode("ascii"), envelope[start:]


def open_data(data_key: bytes, body: memoryview, associated_data: bytes) -> bytes | None:
    """Decrypt an envelope's ``nonce || ciphertext || tag``; ``None`` if it does not authenticate."""
    if len(data_key) != DATA_KEY_BYTES or len(body) > _NONCE + MAX_DATA_BYTES + _TAG:
        return None
    try:
        return AESGCM(data_key).decrypt(body[:_NONCE], body[_NONCE:], HEADER + associated_data)
    except (InvalidTag, ValueError):
        return None


def authentic(data_key: bytes, body: memoryview, associated_data: bytes) -> bool:
    """Whether ``body`` (nonce, ciphertext, tag) authenticates under ``data_key``, a 32-byte key.

    It costs one AES-GCM decryption of the body. A body of more than 64 KiB of ciphertext is decrypted
    piece by piece into one scratch buffer of 64 KiB (and 15 bytes), overwritten with zeros at the end:
    its plaintext never exists whole, and checking takes the same memory whatever the size of the data.
    A shorter body is decrypted at once, as :func:`open_data` does, and the plaintext dropped.
    """
    if len(data_key) != DATA_KEY_BYTES or len(body) > _NONCE + MAX_DATA_BYTES + _TAG:
        return False
    if len(body) <= _NONCE + _CHUNK + _TAG:  # building a Cipher costs more than decrypting this much at once
        return open_data(data_key, body, associated_data) is not None
    decryptor = Cipher(algorithms.AES(data_key), modes.GCM(bytes(body[:_NONCE]), bytes(body[-_TAG:]))).decryptor()
    decryptor.authenticate_additional_data(HEADER + associated_data)
    ciphertext = body[_NONCE:-_TAG]
    scratch = bytearray(min(_CHUNK, len(ciphertext)) + 15)  # update_into wants room for one more block
    try:
        for start in range(0, len(ciphertext), _CHUNK):
            piece = ciphertext[start : start + _CHUNK]
            decryptor.update_into(piece, scratch if len(piece) == _CHUNK else memoryview(scratch)[: len(piece) + 15])
        decryptor.finalize()
    except InvalidTag:
        return False
    finally:
        scratch[:] = bytes(len(scratch))
    return True


def rewrapped(wrapped: str, body: memoryview) -> bytearray:
    """A new envelope: ``wrapped`` as its header's token, and ``body`` (nonce, ciphertext, tag) unchanged."""
    token = wrapped.encode("ascii")
    out = bytearray(HEADER + _LENGTH.pack(len(token)) + token)
    out += body  # one copy of the body (a slice assignment from a view costs several times more)
    return out
