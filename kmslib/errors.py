"""Every error kmslib raises on purpose, under one root.

Catch :class:`KMSError` to catch them all. The tree::

    KMSError(Exception)
    ├── KeyNotFoundError(KMSError, LookupError)    no key with that id (or no such version)
    ├── KeyExistsError(KMSError)                   the id is taken, by a live key or a revoked one
    ├── KeyRevokedError(KMSError)                  the key, or that version of it, was revoked
    ├── KeyTypeError(KMSError, TypeError)          an RSA key used for AES, or the reverse
    ├── DecryptionError(KMSError)                  malformed, tampered or wrong-key token; one message for all
    ├── InvalidInputError(KMSError, ValueError)    bad key id, bad argument value, an operation the state forbids
    │   ├── MessageTooLongError(InvalidInputError) plaintext over the RSA padding's limit
    │   ├── KeyStateError(InvalidInputError)       the key's state forbids it (or forbids that transition), or a
    │   │                                          key version is at its usage limit
    │   └── ArgumentTypeError(InvalidInputError, TypeError)
    │                                              an argument of the wrong Python type (names the argument)
    ├── InvalidPeerKeyError(KMSError, ValueError)  a peer's public key that fails validation, or is no DH key
    ├── SignatureError(KMSError)                   a signature that does not verify; one message for all
    ├── UnsealError(KMSError)                      a wrong passphrase, too few or wrong shares (a sealed store)
    ├── StoreError(KMSError)                       a store file that is locked, corrupted, tampered, too new or closed
    ├── HardwareError(KMSError)                    a PKCS#11 token (contract section 12) that is missing, locked,
    │                                              full or gone, a wrong PIN, or a session lost mid-operation
    └── AccessDeniedError(KMSError, PermissionError)
        │                                          the caller's principal may not do this (a key policy, contract
        │                                          section 11): the same error whether or not the key exists
        └── ApprovalRequiredError(AccessDeniedError)
                                                   allowed only with approvals from other principals (dual
                                                   control); ``.request_id`` names the request to approve

Messages never contain key bytes or plaintext. :class:`DecryptionError` carries one fixed
message whatever the cause (bad base64, bad padding, bad tag, wrong key, text that does not
decode), like Fernet's ``InvalidToken``, and it carries no cause: its ``__cause__`` and
``__context__`` are ``None``, and no kmslib frame of its traceback holds plaintext, padded bytes
or key material (kmslib raises it from frames that hold none).

A uniform error removes the error-*message* oracle, not the padding oracle: unauthenticated
AES-CBC decryption still tells success from failure, and that alone lets whoever can submit
tokens recover plaintext (Vaudenay, EUROCRYPT 2002). CBC is unsafe wherever an attacker can
submit ciphertexts; GCM, the default, is the fix (see :mod:`kmslib.aes`).

One rule for keys given as arguments: a value that is no key at all (a number, ``None``) is an
``ArgumentTypeError``; a key of the wrong kind, as an object or as PEM text (an RSA or EC key
where a Diffie-Hellman one is due, a private key where the peer's public key is due), is an
``InvalidPeerKeyError`` for a peer's key and an ``InvalidInputError`` for one's own.

``ArgumentTypeError`` is kmslib's one addition to the contract's tree: a wrong Python
type is both a ``TypeError`` (as Python code expects) and a ``KMSError`` (as kmslib promises).
"""

from __future__ import annotations

__all__ = [
    "DECRYPTION_FAILED",
    "SIGNATURE_INVALID",
    "AccessDeniedError",
    "ApprovalRequiredError",
    "ArgumentTypeError",
    "DecryptionError",
    "HardwareError",
    "InvalidInputError",
    "InvalidPeerKeyError",
    "KMSError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyRevokedError",
    "KeyStateError",
    "KeyTypeError",
    "MessageTooLongError",
    "SignatureError",
    "StoreError",
    "UnsealError",
]

#: The one message of every :class:`SignatureError`.
SIGNATURE_INVALID = (
    "the signature does not verify: it is malformed, was made by another key or of another message, "
    "or is not a signature of this kind of key"
)

#: The one message of every :class:`DecryptionError`.
DECRYPTION_FAILED = (
    "decryption failed: the token is malformed or was tampered with, or it was made by "
    "another key or with other associated data (for binary plaintext pass encoding=None)"
)


class KMSError(Exception):
    """The root of every error kmslib raises on purpose."""


class KeyNotFoundError(KMSError, LookupError):
    """No key has that id (or the key has no such version)."""


class KeyExistsError(KMSError):
    """The key id is taken, by a live key or by a revoked one (ids are never reused)."""


class KeyRevokedError(KMSError):
    """The key, or the version of it that a token names, has been revoked."""


class KeyTypeError(KMSError, TypeError):
    """A key of one kind was used for another kind's operation (RSA for AES, or the reverse)."""


class DecryptionError(KMSError):
    """A token could not be decrypted. The message is the same for every cause."""

    def __init__(self, message: str = DECRYPTION_FAILED) -> None:
        super().__init__(message)


class InvalidInputError(KMSError, ValueError):
    """An argument has a bad value, or the key's state forbids the operation."""


class MessageTooLongError(InvalidInputError):
    """The plaintext is longer than the RSA key and padding can encrypt."""


class KeyStateError(InvalidInputError):
    """The key's state forbids the operation, or the transition asked for (contract section 13).

    The key is pre-activation, suspended, deactivated (for encrypting, wrapping or signing) or
    compromised, SP 800-57 allows no such move from its state (the message names the state), or a
    key version has made all the encryptions, wraps or signatures it may (:mod:`kmslib.usage`).
    """


class ArgumentTypeError(InvalidInputError, TypeError):
    """An argument has the wrong Python type; the message names the argument."""


class InvalidPeerKeyError(KMSError, ValueError):
    """A Diffie-Hellman or X25519 public key failed validation, or is not a public key at all."""


class SignatureError(KMSError):
    """A signature does not verify. The message is the same for every cause."""

    def __init__(self, message: str = SIGNATURE_INVALID) -> None:
        super().__init__(message)


class UnsealError(KMSError):
    """A sealed store could not be unsealed: a wrong passphrase, too few shares, or wrong ones.

    Nothing in the store changes when this is raised.
    """


class StoreError(KMSError):
    """A store file is held by another process, corrupted, tampered with, of a newer format, or closed.

    The message names the problem; a store that raises it at opening was not loaded at all.
    """


class HardwareError(KMSError):
    """A hardware token (PKCS#11, contract section 12) could not do what was asked.

    The message names the problem: no PKCS#11 module at the path given, no token with that label,
    a wrong or locked PIN, a token that is full or was removed, or a session lost mid-operation.
    It never contains the PIN, and it carries no cause (``__cause__`` and ``__context__`` are
    ``None``): the binding's own exception stays behind.
    """


class AccessDeniedError(KMSError, PermissionError):
    """The caller's principal may not do this: no key policy statement or grant allows it, or one denies it.

    A principal with no permission on a key gets the same error, with the same message, whether or not
    the key exists, so that the error is no oracle for which key ids exist (contract section 11).
    """


class ApprovalRequiredError(AccessDeniedError):
    """The call is allowed only once other principals approve it (dual control, contract section 11).

    Attributes:
        request_id: the id of the pending request that other principals approve.

    """

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message)
        self.request_id = request_id

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle and copy with the request id (``BaseException`` alone would rebuild from the message)."""
        return (_approval_required, (str(self), self.request_id))


def _approval_required(message: str, request_id: str) -> ApprovalRequiredError:
    return ApprovalRequiredError(message, request_id=request_id)
