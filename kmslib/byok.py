"""Bring your own key, wrapped: import AES key material as AWS KMS and Cloud KMS do (contract section 12).

:meth:`ImportMethods.get_import_parameters` gives a fresh RSA-3072 public key and an import token;
the key's owner wraps the 32 bytes of material with AWS KMS's ``RSA_AES_KEY_WRAP_SHA_256`` layout
(AWS KMS Developer Guide, "Get the public key and import token"; the same as Cloud KMS's
``RSA_OAEP_3072_SHA256_AES_256`` import method):

- a fresh 256-bit AES key, encrypted with RSAES-OAEP (RFC 8017, section 7.1) with SHA-256 and MGF1-SHA-256
  under the wrapping public key (384 bytes for RSA-3072), followed by
- the key material wrapped under that AES key with AES Key Wrap with Padding (RFC 5649): 40 bytes for 32.

:meth:`ImportMethods.import_wrapped_key` unwraps it in the custodian and keeps it as version 1 of a new
AES-256 key. The material travels only wrapped, not in the clear as with
:meth:`kmslib.KeyCustodian.import_aes_key` (plaintext import, for teaching: not BYOK).

An import token is bound to its key id, expires after :data:`IMPORT_TOKEN_LIFETIME` (24 hours, as AWS's
import parameters do) by the custodian's clock, and is used once: presented, it is gone, whether the import
succeeds or fails, so that no one can try many wrapped keys against one wrapping key. The wrapping private
key lives only in this process's memory (a restart forgets pending imports) and is never exported. Every
failure to unwrap, in the RSA layer or the AES layer, is one :class:`~kmslib.errors.InvalidInputError` with
one message: a different answer for a bad OAEP block would be the oracle of Manger's attack (Manger,
"A Chosen Ciphertext Attack on RSA OAEP", CRYPTO 2001).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmslib import _checks
from kmslib.aes import AES_MODES, KEY_BYTES, AESKeyVersion
from kmslib.audit import Audited
from kmslib.errors import ArgumentTypeError, InvalidInputError, KMSError
from kmslib.keyinfo import KeyInfo

if TYPE_CHECKING:
    from kmslib.states import Material

__all__ = ["IMPORT_TOKEN_LIFETIME", "MAX_PENDING_IMPORTS", "UNWRAP_FAILED", "WRAPPING_KEY_BITS", "ImportMethods"]

#: How long an import token and its wrapping key stay valid (AWS KMS: 24 hours).
IMPORT_TOKEN_LIFETIME = timedelta(hours=24)
#: How many imports a custodian keeps pending at once (each holds an RSA-3072 private key in memory).
MAX_PENDING_IMPORTS = 16
#: The wrapping key's size: RSA-3072, AWS's and Cloud KMS's default for imports.
WRAPPING_KEY_BITS = 3072
#: The one message of every wrapped key that does not unwrap, whichever layer refused it.
UNWRAP_FAILED = (
    "the wrapped key does not unwrap: it was not made under this import token's public key as "
    "RSA-OAEP-SHA256 of a 32-byte AES key followed by AES-KWP (RFC 5649) of 32 bytes of key material, "
    "or it was damaged; the import token is used up: get new import parameters"
)
_TOKEN_REFUSED = "the import token is unknown, used, expired or for another key id: get new import parameters"  # noqa: S105 - a message
_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_KWP_BYTES = 40  # RFC 5649 wrapping of 32 bytes: an 8-byte integrity block and 32 bytes


class _Pending(NamedTuple):
    key_id: str
    private_key: rsa.RSAPrivateKey
    expires: datetime


def _unwrapped(private_key: rsa.RSAPrivateKey, wrapped: bytes, mode: str) -> AESKeyVersion | None:
    """The key material ``wrapped`` holds, or ``None`` for any failure (one answer for every layer)."""
    size = private_key.key_size // 8
    if len(wrapped) != size + _KWP_BYTES:
        return None
    try:
        aes_key = private_key.decrypt(wrapped[:size], _OAEP)
        material = keywrap.aes_key_unwrap_with_padding(aes_key, wrapped[size:]) if len(aes_key) == 32 else b""
    except (ValueError, keywrap.InvalidUnwrap):
        return None
    if len(material) != KEY_BYTES:
        return None
    try:
        return AESKeyVersion(material, mode)
    except InvalidInputError:  # one byte repeated: refused as not random, with the same answer as the rest
        return None


class ImportMethods:
    """``KeyCustodian``'s wrapped-import methods (AWS ``GetParametersForImport`` and ``ImportKeyMaterial``)."""

    __slots__ = ()

    if TYPE_CHECKING:
        _imports: dict[str, _Pending]
        _lock: threading.RLock
        _now: Callable[[], datetime]

        def _require_free(self, key_id: object) -> str: ...
        def _create(
            self, key_id: str, kind: str, material: Material, audit: Audited, activate_at: datetime | None = None
        ) -> KeyInfo: ...

    def get_import_parameters(self, key_id: str) -> tuple[str, str]:
        """Start a wrapped import of AES key material into the new key ``key_id``.

        Returns:
            ``(wrapping public key, import token)``: an RSA-3072 SubjectPublicKeyInfo PEM, made for this import
            alone, and the token that :meth:`import_wrapped_key` takes (valid 24 hours, once).

        Raises:
            KeyExistsError: the id is taken.
            InvalidInputError: a bad key id, or :data:`MAX_PENDING_IMPORTS` imports already pending.
        """
        with Audited(self, "get_import_parameters", key_id):
            checked = self._require_free(key_id)
            now = self._now()
            with self._lock:
                for token, pending in list(self._imports.items()):
                    if pending.expires <= now:
                        del self._imports[token]
                if len(self._imports) >= MAX_PENDING_IMPORTS:
                    raise InvalidInputError(
                        f"{MAX_PENDING_IMPORTS} imports are pending: finish them or let them expire (24 hours)"
                    )
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=WRAPPING_KEY_BITS)
            token = secrets.token_urlsafe(24)
            with self._lock:
                self._imports[token] = _Pending(checked, private_key, now + IMPORT_TOKEN_LIFETIME)
            pem = private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            del private_key
            return pem.decode("ascii"), token

    def import_wrapped_key(self, key_id: str, wrapped: bytes, import_token: str, *, mode: str = "gcm") -> KeyInfo:
        """Unwrap key material made for ``import_token`` and keep it as version 1 of the new AES-256 key ``key_id``.

        Args:
            key_id: the key id the import parameters were asked for.
            wrapped: RSA-OAEP-SHA256 of a fresh 32-byte AES key, then AES-KWP (RFC 5649) of the 32 bytes of key
                material under it (AWS's ``RSA_AES_KEY_WRAP_SHA_256``).
            import_token: from :meth:`get_import_parameters`; used up by this call, whatever its outcome.
            mode: ``"gcm"`` or ``"cbc"``.

        Raises:
            InvalidInputError: an unknown, used, expired or another key id's import token; a wrapped key that does
                not unwrap (:data:`UNWRAP_FAILED`, one message for every cause); a bad mode.
            KeyExistsError: the id was taken meanwhile.
            ArgumentTypeError: ``wrapped`` is not bytes, or ``import_token`` not a str.
        """
        with Audited(self, "import_wrapped_key", key_id) as audit:
            checked = self._require_free(key_id)  # a taken id is refused before the token is used
            mode = _checks.choice(mode, "mode", AES_MODES)
            if not isinstance(wrapped, (bytes, bytearray, memoryview)):
                raise ArgumentTypeError(f"wrapped must be bytes, not {type(wrapped).__name__}")
            if not isinstance(import_token, str):
                raise ArgumentTypeError(f"import_token must be a str, not {type(import_token).__name__}")
            with self._lock:
                pending: Any = self._imports.pop(import_token, None)  # used once, whatever follows
            fits = (
                pending is not None
                and hmac.compare_digest(pending.key_id.encode("utf-8"), checked.encode("utf-8"))
                and self._now() < pending.expires
            )
            material = _unwrapped(pending.private_key, bytes(wrapped), mode) if fits else None
            del pending  # a traceback keeps its frames' locals: not the wrapping private key
            if material is None:
                error: KMSError = InvalidInputError(UNWRAP_FAILED if fits else _TOKEN_REFUSED)
                raise error
            return self._create(checked, "aes", material, audit)
