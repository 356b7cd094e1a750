"""One version of an AES-256 key: AES-256-GCM (the default) or AES-256-CBC with PKCS7.

The recipe, whole:

- GCM (NIST SP 800-38D): a fresh 12-byte random nonce per message; payload = nonce ||
  ciphertext || tag; the associated data (if any) is authenticated, never stored in the token.
  Each version counts its encryptions and refuses past 2^32 (section 8.3; see :mod:`kmslib.usage`).
- CBC (NIST SP 800-38A): a fresh 16-byte random IV per message; PKCS7 padding to 16-byte
  blocks; payload = IV || ciphertext. **CBC authenticates nothing, and its decryption is a
  padding oracle**: whoever can submit tokens and learn only whether each one decrypted can
  recover plaintext in a few thousand queries per block (Vaudenay, EUROCRYPT 2002), and can flip
  plaintext bits through the IV. The one uniform error does not prevent this. CBC is here
  because the original description specifies it, for teaching and compatibility; it is unsafe
  wherever an attacker can submit ciphertexts. GCM is the fix.

Methods answer ``None`` rather than raise (see :mod:`kmslib._material`): the custodian raises
the one :class:`~kmslib.errors.DecryptionError`, from a frame that holds no key.

What :meth:`AESKeyVersion.destroy` can wipe: the key bytes kmslib keeps, a ``bytearray``, are
overwritten, and kmslib drops its cipher objects. It cannot reach other copies: the one
pyca/cryptography's ``AESGCM`` object keeps inside OpenSSL (released when that object is freed;
whether that memory is overwritten is up to OpenSSL), copies the caller made or passed in (an
immutable ``bytes`` cannot be overwritten), or memory the operating system swapped out. Python
promises nothing about wiping memory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslib.errors import InvalidInputError
from kmslib.tokens import AES_CBC, AES_GCM, CBC_IV_BYTES, GCM_NONCE_BYTES, GCM_TAG_BYTES
from kmslib.usage import UsageCounter

__all__ = ["AES_MODES", "GCM_MAX_ASSOCIATED_DATA", "GCM_MAX_PLAINTEXT", "KEY_BYTES", "AESKeyVersion"]

KEY_BYTES = 32
#: The named choices for ``mode``, and the token algorithm each one makes.
AES_MODES = {"gcm": AES_GCM, "cbc": AES_CBC}
#: The longest plaintext one GCM encryption takes: pyca/cryptography's ``AESGCM`` refuses more than
#: 2**31 - 1 bytes (``OverflowError``), well under GCM's own limit of 2**39 - 256 bits (NIST SP 800-38D,
#: section 5.2.1.1).
GCM_MAX_PLAINTEXT = 2**31 - 1
#: The longest associated data one GCM call takes: pyca/cryptography's limit, 2**31 - 1 bytes, again.
GCM_MAX_ASSOCIATED_DATA = 2**31 - 1
_FINGERPRINT_LABEL = b"kmslib aes key fingerprint v1"
#: From this size on, GCM works in place (no copy of the ciphertext); below it, a copy costs less than a view.
_IN_PLACE_BYTES = 1 << 16


class AESKeyVersion:
    """The secret of one AES key version, and the cipher objects made from it.

    Args:
        key: exactly 32 bytes, not one byte repeated.
        mode: ``"gcm"`` or ``"cbc"``.

    Raises:
        InvalidInputError: ``key`` is not 32 bytes long, or is one byte repeated (all zeros, say).

    """

    __slots__ = (
        "_aead",
        "_aes",
        "_key",
        "algorithm",
        "binds_associated_data",
        "fingerprint",
        "max_plaintext",
        "mode",
        "usage",
    )

    def __init__(self, key: bytes | bytearray | memoryview, mode: str) -> None:
        if len(key) != KEY_BYTES:
            raise InvalidInputError(f"an AES-256 key is exactly {KEY_BYTES} bytes, not {len(key)}")
        self._key = bytearray(key)  # the one copy kmslib keeps, overwritten by destroy()
        if self._key.count(self._key[0]) == KEY_BYTES:
            self._key[:] = bytes(KEY_BYTES)
            raise InvalidInputError("the key is one byte repeated 32 times: that is not a random key")
        self.mode = mode
        self.algorithm = AES_MODES[mode]
        self.binds_associated_data = mode == "gcm"
        self.max_plaintext = GCM_MAX_PLAINTEXT if mode == "gcm" else sys.maxsize
        #: The count of GCM encryptions (the custodian replaces it with one of its limit and store); ``None`` for
        #: CBC unless a ``max_uses`` policy counts it (see :mod:`kmslib.states`).
        self.usage: UsageCounter | None = UsageCounter() if mode == "gcm" else None
        # The cipher objects are built once per version, not per message. algorithms.AES keeps a
        # reference to the bytearray itself, so destroy() overwrites what it holds too.
        self._aead: AESGCM | None = AESGCM(self._key) if mode == "gcm" else None
        self._aes: algorithms.AES | None = algorithms.AES(self._key) if mode == "cbc" else None
        # A public fingerprint: SHA-256 of a keyed derivation, never of the key itself.
        derived = hmac.new(self._key, _FINGERPRINT_LABEL, hashlib.sha256).digest()
        self.fingerprint = hashlib.sha256(derived).hexdigest()[:16]

    @classmethod
    def generate(cls, mode: str) -> AESKeyVersion:
        """Return a new version with 32 bytes from the OS CSPRNG (``secrets.token_bytes``)."""
        return cls(secrets.token_bytes(KEY_BYTES), mode)

    def successor(self) -> AESKeyVersion:
        """A fresh version of the same kind, for rotation."""
        return AESKeyVersion.generate(self.mode)

    def too_long(self, length: int) -> str:
        """The message for a plaintext over :attr:`max_plaintext` (GCM's limit)."""
        return f"the message is {length} bytes; {self.algorithm} encrypts at most {self.max_plaintext} bytes at once"

    def encrypt(self, plaintext: bytes, associated_data: bytes | None) -> bytes | bytearray | None:
        """Encrypt ``plaintext`` under a fresh nonce or IV; return the token payload.

        The custodian has checked that ``associated_data`` is ``None`` for CBC.

        Returns:
            The payload, or ``None`` if this version was destroyed meanwhile, or if its
            :attr:`usage` refuses one more encryption (its ``refusal`` says why).
        """
        aead = self._aead  # read once: destroy() may run in another thread
        usage = self.usage
        if usage is not None and not usage.take():  # counted before the cryptography
            return None
        if aead is not None:
            nonce = os.urandom(GCM_NONCE_BYTES)
            if len(plaintext) < _IN_PLACE_BYTES:
                return nonce + aead.encrypt(nonce, plaintext, associated_data)
            payload = bytearray(GCM_NONCE_BYTES + len(plaintext) + GCM_TAG_BYTES)
            payload[:GCM_NONCE_BYTES] = nonce
            # Written in place after the nonce: no copy of a large ciphertext.
            aead.encrypt_into(nonce, plaintext, associated_data, memoryview(payload)[GCM_NONCE_BYTES:])
            return payload
        aes = self._aes
        if aes is None:
            return None
        iv = os.urandom(CBC_IV_BYTES)
        padder = sym_padding.PKCS7(128).padder()
        encryptor = Cipher(aes, modes.CBC(iv)).encryptor()
        return iv + encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()

    def decrypt(self, payload: bytes, associated_data: bytes | None) -> bytes | None:
        """Decrypt a token payload made by :meth:`encrypt`.

        Returns:
            The plaintext, or ``None`` if the payload is malformed, tampered with, made by
            another key or with other associated data, or if this version was destroyed.

        """
        aead = self._aead
        if aead is not None:
            if len(payload) > GCM_NONCE_BYTES + GCM_MAX_PLAINTEXT + 16:  # no token of ours; pyca would panic on it
                return None
            small = len(payload) < _IN_PLACE_BYTES
            body = payload[GCM_NONCE_BYTES:] if small else memoryview(payload)[GCM_NONCE_BYTES:]
            try:
                return aead.decrypt(payload[:GCM_NONCE_BYTES], body, associated_data)
            except (InvalidTag, ValueError):
                return None
        aes = self._aes
        body = payload[CBC_IV_BYTES:]
        if aes is None or not body or len(body) % 16:
            return None
        decryptor = Cipher(aes, modes.CBC(payload[:CBC_IV_BYTES])).decryptor()
        unpadder = sym_padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(decryptor.update(body) + decryptor.finalize()) + unpadder.finalize()
        except ValueError:  # bad padding: answering None instead is still an oracle (see the module)
            return None

    def sealed(self, seal: Callable[[bytes | bytearray], bytes]) -> bytes | None:
        """Hand the 32 key bytes to ``seal`` (a sealed store's) and return its result; ``None`` once destroyed."""
        if self._aead is None and self._aes is None:
            return None
        return seal(self._key)

    def destroy(self) -> None:
        """Overwrite the key bytes kmslib keeps and drop the cipher objects.

        Copies outside kmslib's reach stay until their memory is reused (see the module docstring).
        """
        self._key[:] = bytes(len(self._key))
        self._aead = None
        self._aes = None

    def __repr__(self) -> str:
        return f"AESKeyVersion(algorithm={self.algorithm!r}, fingerprint={self.fingerprint!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("AES key material cannot be pickled")
