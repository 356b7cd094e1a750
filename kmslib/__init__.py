"""kmslib: a small, real key custodian for teaching cryptographic key management.

Quick start::

    from kmslib import KeyCustodian

    kms = KeyCustodian()
    kms.establish_aes_key("terminal_123")
    token = kms.encrypt_data_aes("terminal_123", "Confidential Communication")
    kms.decrypt_data_aes("terminal_123", token)   # 'Confidential Communication'

Everything is built on pyca/cryptography. ``import kmslib`` loads nothing else: the
course's interactive forms live in :mod:`kmslib.widgets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kmslib.audit import AuditEntry, AuditLog
from kmslib.ceremony import open_share
from kmslib.clock import ClassroomClock, classroom_clock
from kmslib.custodian import REVOCATION_SUCCESSFUL, KeyCustodian
from kmslib.dh import GROUPS, DHPrivateKey, DHPublicKey, load_public_key, public_key_pem
from kmslib.envelope import DataKey
from kmslib.errors import (
    AccessDeniedError,
    ApprovalRequiredError,
    ArgumentTypeError,
    DecryptionError,
    HardwareError,
    InvalidInputError,
    InvalidPeerKeyError,
    KeyExistsError,
    KeyNotFoundError,
    KeyRevokedError,
    KeyStateError,
    KeyTypeError,
    KMSError,
    MessageTooLongError,
    SignatureError,
    StoreError,
    UnsealError,
)
from kmslib.hsm import HardwareToken
from kmslib.hybrid import HybridPrivateKey, HybridPublicKey, KeyExchangeReply
from kmslib.keyinfo import KeyInfo
from kmslib.rsa import encrypt_with_public_key
from kmslib.signing import verify_signature
from kmslib.states import RotationPolicy
from kmslib.tokens import TokenInfo, inspect_token

__version__ = "0.1.0"


if TYPE_CHECKING:  # loaded on first use (PEP 562), never by ``import kmslib``: the store imports sqlite3, and
    from kmslib.pki import CertificateAuthority  # the certificate authority pyca's x509 (some 20 ms)
    from kmslib.store import init_store


def __getattr__(name: str) -> Any:
    """``kmslib.init_store`` and ``kmslib.CertificateAuthority``, imported when first used."""
    if name == "init_store":
        from kmslib.store import init_store  # noqa: PLC0415 - sqlite3 only when a store is used

        return init_store
    if name == "CertificateAuthority":
        from kmslib.pki import CertificateAuthority  # noqa: PLC0415 - x509 only when certificates are used

        return CertificateAuthority
    raise AttributeError(f"module 'kmslib' has no attribute {name!r}")


__all__ = [
    "GROUPS",
    "REVOCATION_SUCCESSFUL",
    "AccessDeniedError",
    "ApprovalRequiredError",
    "ArgumentTypeError",
    "AuditEntry",
    "AuditLog",
    "ClassroomClock",
    "DHPrivateKey",
    "DHPublicKey",
    "DataKey",
    "CertificateAuthority",
    "HardwareToken",
    "HybridPrivateKey",
    "HybridPublicKey",
    "DecryptionError",
    "HardwareError",
    "InvalidInputError",
    "InvalidPeerKeyError",
    "KMSError",
    "KeyCustodian",
    "KeyExchangeReply",
    "KeyExistsError",
    "KeyInfo",
    "KeyNotFoundError",
    "KeyRevokedError",
    "KeyStateError",
    "KeyTypeError",
    "MessageTooLongError",
    "RotationPolicy",
    "SignatureError",
    "StoreError",
    "UnsealError",
    "TokenInfo",
    "__version__",
    "classroom_clock",
    "encrypt_with_public_key",
    "init_store",
    "inspect_token",
    "load_public_key",
    "open_share",
    "public_key_pem",
    "verify_signature",
]
