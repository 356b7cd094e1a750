"""One version of an AES-256 key: AES-256-GCM (the default) or AES-256-CBC with PKCS7.

The recipe, whole:

- GCM: a fresh 12-byte random nonce per message; payload = nonce || ciphertext || tag;
  the associated data (if any) is authenticated, never stored in the token.
- CBC: a fresh 16-byte random IV per message; PKCS7 padding to 16-byte blocks;
  payload = IV || ciphertext. CBC authenticates nothing: it is kept because the original
  description specifies it, and the course shows what it cannot detect.

Any decryption failure raises the one :class:`~kmslib.errors.DecryptionError`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslib.errors import DecryptionError, InvalidInputError, KeyRevokedError
from kmslib.tokens import AES_CBC, AES_GCM, CBC_IV_BYTES, GCM_NONCE_BYTES, GCM_TAG_BYTES

__all__ = ["AES_MODES", "KEY_BYTES", "AESKeyVersion"]

KEY_BYTES = 32
#: The named choices for ``mode``, and the token algorithm each one makes.
AES_MODES = {"gcm": AES_GCM, "cbc": AES_CBC}
_FINGERPRINT_LABEL = b"kmslib aes key fingerprint v1"
#: From this size on, GCM works in place (no copy of the ciphertext); below it, a copy costs less than a view.
_IN_PLACE_BYTES = 1 << 16


class AESKeyVersion:
    """The secret of one AES key version, and the cipher objects made from it.

    Args:
        key: exactly 32 bytes.
        mode: ``"gcm"`` or ``"cbc"``.

    Raises:
        InvalidInputError: ``key`` is not 32 bytes long.

    """

    __slots__ = ("_aead", "_aes", "_key", "algorithm", "fingerprint", "mode")

    def __init__(self, key: bytes | bytearray, mode: str) -> None:
        if len(key) != KEY_BYTES:
            raise InvalidInputError(f"an AES-256 key is exactly {KEY_BYTES} bytes, not {len(key)}")
        self._key = bytearray(key)
        self.mode = mode
        self.algorithm = AES_MODES[mode]
        # The cipher objects are built once per version, not per message.
        self._aead = AESGCM(self._key) if mode == "gcm" else None
        self._aes = algorithms.AES(bytes(self._key)) if mode == "cbc" else None
        # A public fingerprint: SHA-256 of a keyed derivation, never of the key itself.
        derived = hmac.new(bytes(self._key), _FINGERPRINT_LABEL, hashlib.sha256).digest()
        self.fingerprint = hashlib.sha256(derived).hexdigest()[:16]

    @classmethod
    def generate(cls, mode: str) -> AESKeyVersion:
        """Return a new version with 32 bytes from the OS CSPRNG (``secrets.token_bytes``)."""
        return cls(secrets.token_bytes(KEY_BYTES), mode)

    def successor(self) -> AESKeyVersion:
        """A fresh version of the same kind, for rotation."""
        return AESKeyVersion.generate(self.mode)

    def _refuse_cbc_associated_data(self, associated_data: bytes | None) -> None:
        if associated_data is not None and self.mode == "cbc":
            raise InvalidInputError("an aes-256-cbc key cannot bind associated_data (only aes-256-gcm can)")

    def encrypt(self, plaintext: bytes, associated_data: bytes | None) -> bytes | bytearray:
        """Encrypt ``plaintext`` under a fresh nonce or IV and return the token payload.

        Raises:
            InvalidInputError: associated data for a CBC key (CBC cannot bind it).
            KeyRevokedError: the version was destroyed meanwhile.
        """
        aead = self._aead  # read once: destroy() may run in another thread
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
            raise KeyRevokedError("this key version was revoked and its material destroyed")
        self._refuse_cbc_associated_data(associated_data)
        iv = os.urandom(CBC_IV_BYTES)
        padder = sym_padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(aes, modes.CBC(iv)).encryptor()
        return iv + encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, payload: bytes, associated_data: bytes | None) -> bytes:
        """Decrypt a token payload made by :meth:`encrypt`.

        Raises:
            DecryptionError: the payload is malformed, tampered with, or not made by this key.

        """
        aead = self._aead
        if aead is not None:
            small = len(payload) < _IN_PLACE_BYTES
            body = payload[GCM_NONCE_BYTES:] if small else memoryview(payload)[GCM_NONCE_BYTES:]
            try:
                return aead.decrypt(payload[:GCM_NONCE_BYTES], body, associated_data)
            except (InvalidTag, ValueError):
                raise DecryptionError() from None
        aes = self._aes
        if aes is None:
            raise KeyRevokedError("this key version was revoked and its material destroyed")
        self._refuse_cbc_associated_data(associated_data)
        body = payload[CBC_IV_BYTES:]
        if not body or len(body) % 16:
            raise DecryptionError()
        decryptor = Cipher(aes, modes.CBC(payload[:CBC_IV_BYTES])).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise DecryptionError() from None

    def destroy(self) -> None:
        """Overwrite the key bytes and drop the cipher objects (as far as Python allows)."""
        self._key[:] = bytes(len(self._key))
        self._aead = None
        self._aes = None

    def __repr__(self) -> str:
        return f"AESKeyVersion(algorithm={self.algorithm!r}, fingerprint={self.fingerprint!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("AES key material cannot be pickled")
