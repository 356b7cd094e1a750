"""One version of an RSA key pair: RSA-OAEP with SHA-256 (the default) or PKCS#1 v1.5.

The recipe, whole:

- ``"oaep"``: OAEP with MGF1-SHA256, SHA-256 and an empty label; at most k - 66 bytes
  of plaintext (k = modulus bytes: 190 for RSA-2048).
- ``"pkcs1v15"``: PKCS#1 v1.5 encryption padding, as the original description specifies;
  at most k - 11 bytes (245 for RSA-2048). Decryption keeps pyca/cryptography's implicit
  rejection: a forged ciphertext may decrypt to pseudo-random bytes instead of failing,
  the defence against Bleichenbacher and Marvin attacks. Never add a padding check here.

OAEP is no excuse for a leaky decoder either: if an attacker can tell one failure of OAEP
decoding from another (by error or by timing), Manger's attack (CRYPTO 2001) recovers the
plaintext. kmslib leaves decoding to OpenSSL, written to run in constant time, and turns every
failure into the same answer. The token payload is the raw RSA ciphertext, exactly k bytes.

Methods answer ``None`` rather than raise (see :mod:`kmslib._material`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmslib import _checks, _ffdh
from kmslib.errors import ArgumentTypeError, InvalidInputError, KMSError, MessageTooLongError
from kmslib.tokens import RSA_OAEP, RSA_PKCS1V15, format_token
from kmslib.usage import UsageCounter

__all__ = [
    "KEY_SIZES",
    "MIN_IMPORT_BITS",
    "PUBLIC_EXPONENT",
    "RSA_PADDINGS",
    "RSAKeyVersion",
    "encrypt_with_public_key",
    "max_plaintext",
    "seal_pkcs8",
]

#: The key sizes :meth:`RSAKeyVersion.generate` offers.
KEY_SIZES = (2048, 3072, 4096)
#: The smallest modulus an imported key may have.
MIN_IMPORT_BITS = 2048
#: The one public exponent kmslib makes and accepts (F4: small exponents such as 3 invite
#: attacks on bad padding, and unusual ones mean the key was not made by a standard tool).
PUBLIC_EXPONENT = 65537
#: The named choices for ``padding``, and the token algorithm each one makes.
RSA_PADDINGS = {"oaep": RSA_OAEP, "pkcs1v15": RSA_PKCS1V15}
_OVERHEAD = {"oaep": 2 * 32 + 2, "pkcs1v15": 11}
_NO_ENCRYPTION = serialization.NoEncryption()


def seal_pkcs8(private: Any, seal: Callable[[bytes | bytearray], bytes]) -> bytes | None:
    """``seal`` applied to ``private`` as unencrypted PKCS#8 DER (``None`` for a destroyed key).

    The materials' one way out for a private key, into a sealed store's sealing function. The DER
    is an immutable ``bytes`` that Python cannot overwrite; nothing keeps it after the call.
    """
    if private is None:
        return None
    return seal(private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, _NO_ENCRYPTION))


def max_plaintext(key_size: int, padding_name: str) -> int:
    """The longest plaintext, in bytes, an RSA key of ``key_size`` bits encrypts with that padding.

    Args:
        key_size: the modulus size in bits.
        padding_name: ``"oaep"`` (k - 66 bytes) or ``"pkcs1v15"`` (k - 11 bytes).
    """
    return (key_size + 7) // 8 - _OVERHEAD[padding_name]


def _too_long(length: int, algorithm: str, key_size: int, limit: int) -> str:
    return (
        f"the message is {length} bytes; {algorithm} with a {key_size}-bit key encrypts at most {limit} bytes "
        "(encrypt larger data with AES and wrap that key)"
    )


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
        "binds_associated_data",
        "fingerprint",
        "key_size",
        "max_plaintext",
        "padding_name",
        "public_key",
        "usage",
    )

    def __init__(self, private_key: rsa.RSAPrivateKey, padding_name: str) -> None:
        self._private: rsa.RSAPrivateKey | None = private_key
        #: A count of encryptions, set by the custodian only under a ``max_uses`` policy (see :mod:`kmslib.states`).
        self.usage: UsageCounter | None = None
        self.public_key = private_key.public_key()
        self.padding_name = padding_name
        self._padding = _padding(padding_name)
        self.algorithm = RSA_PADDINGS[padding_name]
        #: RSA encryption here binds no associated data (OAEP's label is always empty).
        self.binds_associated_data = False
        self.key_size = private_key.key_size
        #: The longest plaintext, in bytes, this key and padding can encrypt.
        self.max_plaintext = max_plaintext(self.key_size, padding_name)
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.fingerprint = hashlib.sha256(der).hexdigest()[:16]

    @classmethod
    def generate(cls, key_size: int, padding_name: str) -> RSAKeyVersion:
        """Generate a fresh key pair (public exponent 65537)."""
        return cls(rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=key_size), padding_name)

    def successor(self) -> RSAKeyVersion:
        """A fresh key pair of the same size and padding, for rotation (slow: seconds for 4096 bits)."""
        return RSAKeyVersion.generate(self.key_size, self.padding_name)

    def too_long(self, length: int) -> str:
        """The message for a plaintext over :attr:`max_plaintext`."""
        return _too_long(length, self.algorithm, self.key_size, self.max_plaintext)

    def encrypt(self, plaintext: bytes, associated_data: bytes | None = None) -> bytes | None:
        """Encrypt ``plaintext`` (at most :attr:`max_plaintext` bytes: the custodian checks) with the public key.

        Returns ``None`` if :attr:`usage` refuses one more encryption (its ``refusal`` says why).
        """
        usage = self.usage
        if usage is not None and not usage.take():
            return None
        return self.public_key.encrypt(plaintext, self._padding)

    def decrypt(self, payload: bytes, associated_data: bytes | None = None) -> bytes | None:
        """Decrypt a raw RSA ciphertext.

        Returns:
            The plaintext, or ``None`` if the ciphertext has the wrong length, (OAEP) bad
            padding, or this version was destroyed. PKCS#1 v1.5 answers pseudo-random bytes
            for bad padding instead (implicit rejection).

        """
        private = self._private  # read once: destroy() may run in another thread
        if private is None or len(payload) != (self.key_size + 7) // 8:
            return None
        try:
            return private.decrypt(payload, self._padding)
        except ValueError:
            return None

    def public_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def sealed(self, seal: Callable[[bytes | bytearray], bytes]) -> bytes | None:
        """Hand the private key, as PKCS#8 DER, to ``seal`` and return its result; ``None`` once destroyed.

        See :func:`seal_pkcs8`.
        """
        return seal_pkcs8(self._private, seal)

    def destroy(self) -> None:
        """Drop kmslib's reference to the private key.

        The key lives in OpenSSL's memory, inside the pyca object; it is freed when nothing else
        holds that object. kmslib cannot force that, nor see whether the memory is overwritten.
        """
        self._private = None

    def __repr__(self) -> str:
        return f"RSAKeyVersion(algorithm={self.algorithm!r}, bits={self.key_size}, fingerprint={self.fingerprint!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("RSA key material cannot be pickled")


def private_key_from_pem(pem: bytes, password: bytes | None) -> rsa.RSAPrivateKey | KMSError:
    """The RSA private key in ``pem``, or the error that refuses it (returned: raised by the caller)."""
    error: KMSError | None = None
    try:
        private = _ffdh.load_pem_private_key(pem, password)
    except TypeError:
        error = InvalidInputError("the PEM's encryption and the password do not match")
    except ValueError:
        error = InvalidInputError("the text is not a PEM private key, or the password is wrong")
    if error is not None:
        return error
    if not isinstance(private, rsa.RSAPrivateKey):
        return InvalidInputError(f"the PEM holds a {type(private).__name__}, not an RSA private key")
    if private.key_size < MIN_IMPORT_BITS:
        return InvalidInputError(f"the key has {private.key_size} bits; at least {MIN_IMPORT_BITS} are needed")
    exponent = private.public_key().public_numbers().e
    if exponent != PUBLIC_EXPONENT:
        shown = exponent if exponent.bit_length() <= 32 else f"a {exponent.bit_length()}-bit number"
        return InvalidInputError(f"the public exponent is {shown}; kmslib accepts only {PUBLIC_EXPONENT}")
    return private


def encrypt_with_public_key(
    public_key_pem: str | bytes, plaintext: str | bytes, *, padding: str = "oaep", version: int = 1
) -> str:
    """Encrypt to an RSA public key exported by a custodian, with no custodian of one's own.

    This is what a sender holding only the recipient's public key does (with AWS KMS: ``GetPublicKey``,
    then encrypting locally). The recipient decrypts the token with ``decrypt_data_rsa``.

    Args:
        public_key_pem: the recipient's SubjectPublicKeyInfo PEM (``export_public_key``).
        plaintext: ``str`` (UTF-8) or bytes, at most the padding's limit (190 bytes for OAEP with RSA-2048).
        padding: the recipient key's padding, ``"oaep"`` or ``"pkcs1v15"`` (its ``KeyInfo.algorithm`` says which).
        version: the recipient key's version that the PEM belongs to (its ``KeyInfo.version``).

    Returns:
        A token ``kms:v<version>:<algorithm>:<base64 ciphertext>``.

    Raises:
        InvalidInputError: the PEM is not an RSA public key of at least 2048 bits with exponent 65537,
            or a bad padding or version.
        MessageTooLongError: the plaintext is over the limit.
        ArgumentTypeError: an argument of the wrong type.
    """
    padding_name = _checks.choice(padding, "padding", RSA_PADDINGS)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ArgumentTypeError(f"version must be an int, not {type(version).__name__}")
    if not 1 <= version < 10**9:
        raise InvalidInputError(f"version must be from 1 to 999999999, not {version}")
    data = _checks.data(plaintext, "plaintext")
    raw = _checks.text_or_bytes_pem(public_key_pem, "public_key_pem")
    try:
        key = _ffdh.load_pem_public_key(raw)
    except ValueError:
        key = None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidInputError("public_key_pem is not an RSA public key in PEM")
    if key.key_size < MIN_IMPORT_BITS or key.public_numbers().e != PUBLIC_EXPONENT:
        raise InvalidInputError(
            f"the key must have at least {MIN_IMPORT_BITS} bits and public exponent {PUBLIC_EXPONENT}"
        )
    limit = max_plaintext(key.key_size, padding_name)
    if len(data) > limit:
        raise MessageTooLongError(_too_long(len(data), RSA_PADDINGS[padding_name], key.key_size, limit))
    return format_token(version, RSA_PADDINGS[padding_name], key.encrypt(data, _padding(padding_name)))
