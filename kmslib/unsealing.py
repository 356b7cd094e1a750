"""Unseal secrets: what opens a sealed store's root key, a passphrase or Shamir shares.

A store has two keys, as HashiCorp Vault's barrier does. The **root key** (32 random bytes)
seals every key version in the store and never changes. The **unseal key** seals only the root
key, and comes from what people hold:

- a passphrase, stretched with Argon2id using RFC 9106's second recommended parameters (section 4:
  t=3 passes, p=4 lanes, m=2^16 KiB = 64 MiB, a 128-bit salt) where the installed OpenSSL has it
  (3.2 or later: pyca/cryptography's wheels do), else scrypt with n=2^17, r=8, p=1 (RFC 7914);
  the choice, its parameters and the salt are stored, the unseal key is not;
- or 32 random bytes split by Shamir's secret sharing (Shamir, "How to share a secret",
  CACM 1979, doi:10.1145/359168.359176) in SLIP-0039's format, through its reference
  implementation, ``shamir-mnemonic`` (the ``kmslib[store]`` extra). Each share is 33 words
  from a 1,024-word list with an RS1024 checksum that catches a mistyped word; any ``threshold``
  of them give back the secret, and fewer reveal nothing about it.

Replacing the unseal key (:meth:`kmslib.KeyCustodian.rekey`) re-seals the root key alone, so a
new passphrase, or new shares when a share holder leaves, costs one row, not every key.
Nothing here does polynomial arithmetic: the sharing is ``shamir-mnemonic``'s.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import unicodedata
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from kmslib.errors import ArgumentTypeError, InvalidInputError, StoreError, UnsealError

__all__ = [
    "ARGON2ID",
    "MAX_SHARES",
    "SCRYPT",
    "UNSEAL_KEY_BYTES",
    "check_share_counts",
    "combine_shares",
    "derive_unseal_key",
    "passphrase_bytes",
    "passphrase_parameters",
    "share_progress",
    "split_unseal_key",
]

UNSEAL_KEY_BYTES = 32
SALT_BYTES = 16
#: RFC 9106, section 4, the second recommended option (memory in KiB).
ARGON2ID: dict[str, Any] = {"kdf": "argon2id", "iterations": 3, "lanes": 4, "memory_cost": 2**16}
#: The fallback where OpenSSL has no Argon2id: RFC 7914's scrypt at 128 MiB.
SCRYPT: dict[str, Any] = {"kdf": "scrypt", "n": 2**17, "r": 8, "p": 1}
#: SLIP-0039 allows at most 16 shares in a group.
MAX_SHARES = 16
_EXTRA = "Shamir shares need the shamir-mnemonic package: pip install 'kmslib[store]'"


def _argon2id() -> Any | None:
    """Pyca's Argon2id class, or ``None`` where this OpenSSL lacks it."""
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # noqa: PLC0415 - pyca 44 and later

        Argon2id(salt=bytes(16), length=32, iterations=1, lanes=1, memory_cost=8).derive(b"probe")
    except (ImportError, UnsupportedAlgorithm):  # pragma: no cover - OpenSSL before 3.2
        return None
    return Argon2id


def passphrase_bytes(passphrase: object) -> bytes:
    """A passphrase as bytes: text is NFC-normalised, then UTF-8 (so one passphrase typed two ways is one).

    Raises:
        ArgumentTypeError: not ``str`` or ``bytes``.
        InvalidInputError: empty.
    """
    if isinstance(passphrase, str):
        data = unicodedata.normalize("NFC", str.__str__(passphrase)).encode("utf-8")
    elif isinstance(passphrase, (bytes, bytearray)):
        data = bytes(passphrase)
    else:
        raise ArgumentTypeError(f"passphrase must be a str or bytes, not {type(passphrase).__name__}")
    if not data:
        raise InvalidInputError("the passphrase is empty")
    return data


def passphrase_parameters() -> dict[str, Any]:
    """The key-derivation parameters for a new store: Argon2id if OpenSSL has it, else scrypt; a fresh salt."""
    chosen = ARGON2ID if _argon2id() is not None else SCRYPT  # pragma: no branch
    return {**chosen, "salt": os.urandom(SALT_BYTES).hex()}


def derive_unseal_key(passphrase: bytes, parameters: dict[str, Any]) -> bytes:
    """The unseal key that ``passphrase`` gives under the stored ``parameters``.

    Raises:
        StoreError: the parameters are not ones kmslib wrote, or name a KDF this OpenSSL lacks.
    """
    kdf = parameters.get("kdf")
    try:
        salt = bytes.fromhex(parameters["salt"])
        if kdf == "argon2id":
            argon2id = _argon2id()
            if argon2id is None:  # pragma: no cover - OpenSSL before 3.2
                raise StoreError("the store's passphrase uses Argon2id, which this OpenSSL lacks (3.2 or later needed)")
            params = {name: int(parameters[name]) for name in ("iterations", "lanes", "memory_cost")}
            derived: bytes = argon2id(salt=salt, length=UNSEAL_KEY_BYTES, **params).derive(passphrase)
            return derived
        if kdf == "scrypt":
            n, r, p = int(parameters["n"]), int(parameters["r"]), int(parameters["p"])
            return Scrypt(salt=salt, length=UNSEAL_KEY_BYTES, n=n, r=r, p=p).derive(passphrase)
    except (KeyError, ValueError, TypeError):
        pass
    raise StoreError("the store's key-derivation parameters are damaged or unknown")


def _slip39() -> ModuleType:
    try:
        return importlib.import_module("shamir_mnemonic")
    except ImportError:
        raise StoreError(_EXTRA) from None


def split_unseal_key(unseal_key: bytes, shares: int, threshold: int) -> list[str]:
    """Split ``unseal_key`` into ``shares`` SLIP-0039 shares, any ``threshold`` of which recover it.

    Raises:
        StoreError: ``shamir-mnemonic`` is not installed (the message names the extra).
    """
    groups: list[list[str]] = _slip39().generate_mnemonics(1, [(threshold, shares)], unseal_key)
    return list(groups[0])


def check_share_counts(shares: object, threshold: object) -> tuple[int, int]:
    """``(shares, threshold)`` checked: ints with 2 <= threshold <= shares <= 16.

    Raises:
        ArgumentTypeError, InvalidInputError: otherwise.
    """
    for name, value in (("shares", shares), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentTypeError(f"{name} must be an int, not {type(value).__name__}")
    assert isinstance(shares, int)
    assert isinstance(threshold, int)
    if not 2 <= threshold <= shares <= MAX_SHARES:
        raise InvalidInputError(
            f"need 2 <= threshold <= shares <= {MAX_SHARES} (SLIP-0039's limit), not {threshold} of {shares}"
        )
    return int(shares), int(threshold)


def _words(shares: object) -> list[str]:
    if isinstance(shares, str) or not isinstance(shares, Sequence):
        raise ArgumentTypeError(f"shares must be a list of share strings, not {type(shares).__name__}")
    words = []
    for share in shares:
        if not isinstance(share, str):
            raise ArgumentTypeError(f"each share must be a str, not {type(share).__name__}")
        words.append(" ".join(str.__str__(share).lower().split()))
    return words


def share_progress(shares: Sequence[str]) -> tuple[int, int]:
    """How far ``shares`` go: ``(distinct shares given, threshold)``, each share checked on its own.

    For a form that takes shares one at a time: it names the first mistyped share, and says
    when shares come from different sets.

    Raises:
        UnsealError: a share whose words or checksum are wrong, or shares of different sets.
        ArgumentTypeError: ``shares`` is not a list of strings.
        StoreError: ``shamir-mnemonic`` is not installed.
    """
    distinct, threshold, _ = _distinct(shares)
    return len(distinct), threshold


def _distinct(shares: object) -> tuple[list[str], int, int]:
    """The distinct, checked shares, their member threshold (0 for none) and their number of groups."""
    words: Any = _words(shares)
    error_class = _slip39().MnemonicError
    share_class = importlib.import_module("shamir_mnemonic.share").Share
    seen: Any = {}
    share: Any = None
    mnemonic: Any = None
    identity: int | None = None
    threshold = groups = 0
    problem = None
    for number, mnemonic in enumerate(words, start=1):
        try:
            share = share_class.from_mnemonic(mnemonic)
        except error_class:
            problem = (
                f"share {number} is not a valid share: a word is misspelled, missing or out of place "
                "(its checksum does not match); compare it word by word with the copy"
            )
            break
        if identity is not None and share.identifier != identity:
            problem = f"share {number} belongs to another set of shares (its identifier differs)"
            break
        identity, threshold, groups = share.identifier, share.member_threshold, share.group_count
        seen[share.group_index, share.index] = mnemonic
    if problem is not None:  # raised outside the except block (no chain), from a frame holding no share
        shares = words = seen = share = mnemonic = None
        raise UnsealError(problem)
    return list(seen.values()), threshold, groups


def combine_shares(shares: Sequence[str], *, _slip39_passphrase: bytes = b"") -> bytes:
    """The secret that ``shares`` recover (at least the threshold of one set).

    Raises:
        UnsealError: too few shares, a mistyped one, or shares of different sets. The message
            never repeats a share's words.
        StoreError: ``shamir-mnemonic`` is not installed.
    """
    distinct, need, groups = _distinct(shares)
    have = len(distinct)
    if have == 0 or (groups == 1 and have < need):
        missing = "no shares were given" if have == 0 else f"{have} of {need} shares given; {need - have} more needed"
        shares = distinct = None  # type: ignore[assignment]  # a traceback keeps its frames' locals: not the shares
        raise UnsealError(f"too few shares: {missing}")
    module = _slip39()
    secret = None
    with contextlib.suppress(module.MnemonicError):
        secret = module.combine_mnemonics(distinct[:need] if groups == 1 else distinct, _slip39_passphrase)
    if secret is None:
        shares = distinct = None  # type: ignore[assignment]
        raise UnsealError("the shares do not combine: they are not shares of one secret")
    return bytes(secret)
