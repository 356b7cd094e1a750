"""One version of an RSA key pair: RSA-OAEP with SHA-256 (the default) or PKCS#1 v1.5.

The recipe, whole:

- ``"oaep"``: OAEP with MGF1-SHA256, SHA-256 and an empty label; at most k - 66 bytes
  of plaintext (k = modulus bytes: 190 for RSA-2048).
- ``"pkcs1v15"``: PKCS#1 v1.5 encryption padding, as the original description specifies;
  at most k - 11 bytes (245 for RSA-2048). Decryption keeps pyca/cryptography's implicit
  rejection: a forged ciphertext may decrypt to pseudo-random bytes instead of failing,
  the defence against Bleichenbacher and Marvin attacks. Never add a padding check here.

The token payload is the raw RSA ciphertext, exactly k bytes.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmslib.errors import DecryptionError, InvalidInputError, KeyRevokedError, MessageTooLongError
from kmslib.tokens import RSA_OAEP, RSA_PKCS1V15

__all__ = ["KEY_SIZES", "MIN_IMPORT_BITS", "RSA_PADDINGS", "RSAKeyVersion", "max_plaintext"]

#: The key sizes :meth:`RSAKeyVersion.generate` offers.
KEY_SIZES = (2048, 3072, 4096)
#: The smallest modulus an imported key may have.
MIN_IMPORT_BITS = 2048
#: The named choices for ``padding``, and the token algorithm each one makes.
RSA_PADDINGS = {"oaep": RSA_OAEP, "pkcs1v15": RSA_PKCS1V15}
_OVERHEAD = {"oaep": 2 * 32 + 2, "pkcs1v15": 11}


def max_plaintext(key_size: int, padding_name: str) -> int:
    """The longest plaintext, in bytes, an RSA key of ``key_size`` bits encrypts with that padding.

    Args:
        key_size: the modulus size in bits.
        padding_name: ``"oaep"`` (k - 66 bytes) or ``"pkcs1v15"`` (k - 11 bytes).
    """
    return (key_size + 7) // 8 - _OVERHEAD[padding_name]


def _padding(name: str) -> padding.AsymmetricPadding:
    if name == "oaep":
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return padding.PKCS1v15()


class RSAKeyVersion:
    """One RSA key pair and the padding it encrypts with.

    Args:
        private_key: a pyca/cryptography RSA private key.
        padding_name: ``"oaep"`` or ``"pkcs1v15"``.

    """

    __slots__ = (
        "_padding",
        "_private",
        "algorithm",
        "fingerprint",
        "key_size",
        "max_plaintext",
        "padding_name",
        "public_key",
    )

    def __init__(self, private_key: rsa.RSAPrivateKey, padding_name: str) -> None:
        self._private: rsa.RSAPrivateKey | None = private_key
        self.public_key = private_key.public_key()
        self.padding_name = padding_name
        self._padding = _padding(padding_name)
        self.algorithm = RSA_PADDINGS[padding_name]
        self.key_size = private_key.key_size
        #: The longest plaintext, in bytes, this key and padding can encrypt.
        self.max_plaintext = max_plaintext(self.key_size, padding_name)
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.fingerprint = hashlib.sha256(der).hexdigest()[:16]

    @classmethod
    def generate(cls, key_size: int, padding_name: str) -> RSAKeyVersion:
        """Generate a fresh key pair (public exponent 65537)."""
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=key_size), padding_name)

    def successor(self) -> RSAKeyVersion:
        """A fresh key pair of the same size and padding, for rotation (slow: seconds for 4096 bits)."""
        return RSAKeyVersion.generate(self.key_size, self.padding_name)

    @staticmethod
    def _refuse_associated_data(associated_data: bytes | None) -> None:
        if associated_data is not None:
            raise InvalidInputError("RSA tokens carry no associated data")

    def encrypt(self, plaintext: bytes, associated_data: bytes | None = None) -> bytes:
        """Encrypt ``plaintext`` and return the raw RSA ciphertext.

        Raises:
            MessageTooLongError: ``plaintext`` is longer than :attr:`max_plaintext`.
            InvalidInputError: associated data was given (RSA cannot bind it).

        """
        self._refuse_associated_data(associated_data)
        if len(plaintext) > self.max_plaintext:
            raise MessageTooLongError(
                f"the message is {len(plaintext)} bytes; {self.algorithm} with a {self.key_size}-bit key "
                f"encrypts at most {self.max_plaintext} bytes (encrypt larger data with AES and wrap that key)"
            )
        return self.public_key.encrypt(plaintext, self._padding)

    def decrypt(self, payload: bytes, associated_data: bytes | None = None) -> bytes:
        """Decrypt a raw RSA ciphertext.

        Raises:
            DecryptionError: the ciphertext has the wrong length or (OAEP) bad padding.
            InvalidInputError: associated data was given.

        """
        self._refuse_associated_data(associated_data)
        private = self._private  # read once: destroy() may run in another thread
        if private is None:
            raise KeyRevokedError("this key version was revoked and its material destroyed")
        if len(payload) != (self.key_size + 7) // 8:
            raise DecryptionError()
        try:
            return private.decrypt(payload, self._padding)
        except ValueError:
            raise DecryptionError() from None

    def public_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def destroy(self) -> None:
        """Drop the private key (pyca keeps it in OpenSSL memory, which frees it)."""
        self._private = None

    def __repr__(self) -> str:
        return f"RSAKeyVersion(algorithm={self.algorithm!r}, bits={self.key_size}, fingerprint={self.fingerprint!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("RSA key material cannot be pickled")
