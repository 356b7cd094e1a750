"""The one interface every kind of key material offers the custodian.

A key version's material (:class:`~kmslib.aes.AESKeyVersion`, :class:`~kmslib.rsa.RSAKeyVersion`)
holds the secret. The custodian does everything else: it looks keys up, checks arguments,
audits, and raises the errors.

Materials never raise for an expected failure. A raised error's traceback keeps every frame it
passed through, with its locals, and a material's frames hold the key (``self``) and the
plaintext. So a material answers ``None`` where decryption fails, and the custodian, from a
frame that holds no secret, raises the one :class:`~kmslib.errors.DecryptionError`. Before it
calls :meth:`KeyMaterial.encrypt` or :meth:`KeyMaterial.decrypt`, the custodian checks what the
material declares: :attr:`~KeyMaterial.binds_associated_data` and :attr:`~KeyMaterial.max_plaintext`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["KeyMaterial"]


class KeyMaterial(Protocol):
    """What the custodian needs of one key version's material."""

    #: The token algorithm name, such as ``"aes-256-gcm"``.
    algorithm: str
    #: A short public fingerprint (never of the raw secret).
    fingerprint: str
    #: Whether :meth:`encrypt` and :meth:`decrypt` authenticate associated data.
    binds_associated_data: bool
    #: The longest plaintext, in bytes, :meth:`encrypt` takes.
    max_plaintext: int

    def encrypt(self, plaintext: bytes, associated_data: bytes | None) -> bytes | bytearray | None:
        """Return the token payload, or ``None`` if the material was destroyed meanwhile."""
        ...

    def decrypt(self, payload: bytes, associated_data: bytes | None) -> bytes | None:
        """Return the plaintext, or ``None`` for any failure (the same for every cause)."""
        ...

    def too_long(self, length: int) -> str:
        """The message of the error for a plaintext of ``length`` bytes over :attr:`max_plaintext`."""
        ...

    def successor(self) -> KeyMaterial:
        """A fresh material of the same kind and parameters, for rotation."""
        ...

    def sealed(self, seal: Callable[[bytes | bytearray], bytes]) -> bytes | None:
        """Hand the secret, serialised, to ``seal`` and return what it returns (``None`` once destroyed).

        A sealed store's only way to the secret: it goes straight into the sealing function,
        never to a caller (AES: the 32 key bytes; RSA and signing keys: PKCS#8 DER).
        """
        ...

    def destroy(self) -> None:
        """Drop the secret (and overwrite what Python allows); later calls answer ``None``."""
        ...
