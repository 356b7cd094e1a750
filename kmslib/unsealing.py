"""Unseal secrets: what opens a sealed store's root key, a passphrase or Shamir shares.

A store has two keys, as HashiCorp Vault's barrier does. The **root key** (32 random bytes)
seals every key version in the store; :meth:`kmslib.KeyCustodian.rekey` replaces it. The **unseal
key** seals only the root key, and comes from what people hold:

- a passphrase, stretched with Argon2id using RFC 9106's second recommended parameters (section 4:
  t=3 passes, p=4 lanes, m=2^16 KiB = 64 MiB, a 128-bit salt) where the installed OpenSSL has it
  (3.2 or later: pyca/cryptography's wheels do), else scrypt with n=2^17, r=8, p=1 (RFC 7914);
  the choice, its parameters and the salt are stored, the unseal key is not;
- or 32 random bytes split by Shamir's secret sharing (Shamir, "How to share a secret",
  CACM 1979, doi:10.1145/359168.359176) in SLIP-0039's format, through its reference
  implementation, ``shamir-mnemonic`` (the ``kmslib[store]`` extra). Each share is 33 words
  from a 1,024-word list with an RS1024 checksum that catches up to three mistyped words (not a
  share made up to pass it: that is caught only when the shares are combined); any ``threshold``
  of them give back the secret. Fewer give almost nothing: SLIP-0039 stores a 4-byte digest of the
  secret among the shares, so ``threshold - 1`` shares narrow a brute-force search by 32 bits
  (SLIP-0039, "Design rationale": the digest share), which for a 256-bit secret leaves 224.

Rekeying (:meth:`kmslib.KeyCustodian.rekey`, for a new passphrase, or new shares when a share
holder leaves) makes a new root key and a new unseal key, and re-seals every key version under it
in one transaction: the old passphrase or shares no longer open this file, but they still open
every backup made before the rekey, which must be destroyed too.
Nothing here does polynomial arithmetic: the sharing is ``shamir-mnemonic``'s.

What is read before anything authenticates it is bounded first. The store's unseal row is
untrusted until the root key opens under it, so :func:`unseal_parameters` accepts only what
kmslib writes, before any key derivation runs: a JSON object of at most
:data:`UNSEAL_ROW_CHARS` characters, not nested, holding exactly

- ``{"method": "passphrase", "kdf": "argon2id", "iterations": 3, "lanes": 4, "memory_cost": 65536,
  "salt": ...}`` (:data:`ARGON2ID`), or
- ``{"method": "passphrase", "kdf": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": ...}``
  (:data:`SCRYPT`), the salt being 32 lower-case hexadecimal digits (16 bytes) in both, or
- ``{"method": "shares", "shares": s, "threshold": t}`` with integers 2 <= t <= s <= 16, or
- ``{"method": "hsm", "object_id": ...}`` (auto-unseal, contract section 12: the root key sealed by an AES-GCM
  key in a hardware token), the object id being 32 lower-case hexadecimal digits.

The numbers must be JSON integers (``3.0`` and ``true`` are refused). Anything else, an unknown
KDF, a missing or extra field included, is a :class:`~kmslib.errors.StoreError`, so an attacker
who can write the file does not choose what the key derivation costs: it runs with one of these
two parameter sets or not at all. :func:`derive_unseal_key` applies the same check.
SLIP-0039 lets whoever makes a share choose its iteration exponent ``e``: combining shares runs
PBKDF2-SHA256 for 10,000 x 2^e iterations in all (SLIP-0039, "Encryption of the master secret").
kmslib makes its shares with ``e`` = :data:`SHARE_ITERATION_EXPONENT` (1), and
:func:`combine_shares` and :func:`share_progress` refuse a share with a larger ``e`` with an
:class:`~kmslib.errors.UnsealError` naming it, before the cipher runs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import unicodedata
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from kmslib import _json
from kmslib.errors import ArgumentTypeError, InvalidInputError, KMSError, StoreError, UnsealError

__all__ = [
    "ARGON2ID",
    "MAX_SHARES",
    "SCRYPT",
    "SHARE_ITERATION_EXPONENT",
    "UNSEAL_KEY_BYTES",
    "UNSEAL_ROW_CHARS",
    "check_share_counts",
    "combine_shares",
    "derive_unseal_key",
    "passphrase_bytes",
    "passphrase_parameters",
    "share_progress",
    "split_unseal_key",
    "unseal_parameters",
]

UNSEAL_KEY_BYTES = 32
SALT_BYTES = 16
#: RFC 9106, section 4, the second recommended option (memory in KiB).
ARGON2ID: dict[str, Any] = {"kdf": "argon2id", "iterations": 3, "lanes": 4, "memory_cost": 2**16}
#: The fallback where OpenSSL has no Argon2id: RFC 7914's scrypt at 128 MiB.
SCRYPT: dict[str, Any] = {"kdf": "scrypt", "n": 2**17, "r": 8, "p": 1}
#: SLIP-0039 allows at most 16 shares in a group.
MAX_SHARES = 16
#: The SLIP-0039 iteration exponent of the shares kmslib makes, and the largest it combines.
SHARE_ITERATION_EXPONENT = 1
#: The longest unseal row a store may hold, in characters (what kmslib writes is under 200).
UNSEAL_ROW_CHARS = 1024
_SALT = re.compile(f"[0-9a-f]{{{2 * SALT_BYTES}}}")
#: The KDFs a passphrase store may name, each with the one parameter set kmslib writes and reads.
_KDFS = {"argon2id": ARGON2ID, "scrypt": SCRYPT}
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


def unseal_parameters(text: object) -> dict[str, Any]:
    """A store's unseal row, parsed and checked before anything uses it (see the module's docstring).

    Args:
        text: the row as stored: untrusted, since nothing authenticates it until the root key opens.

    Returns:
        The parameters: a passphrase's KDF, its parameters and salt, or the shares' counts.

    Raises:
        StoreError: anything but a row kmslib writes.
    """
    parameters = _json.loads(text, what="unseal row", max_depth=1, max_chars=UNSEAL_ROW_CHARS)
    if not isinstance(parameters, dict):
        raise StoreError("the store's unseal row is not a JSON object: the file was damaged or tampered with")
    method = parameters.get("method")
    if method == "passphrase":
        _kdf(parameters)
    elif method == "shares":
        shares, threshold = parameters.get("shares"), parameters.get("threshold")
        exact = set(parameters) == {"method", "shares", "threshold"}
        if not exact or type(shares) is not int or type(threshold) is not int:
            raise StoreError("the store's shares row does not hold exactly two integers: the file was tampered with")
        if not 2 <= threshold <= shares <= MAX_SHARES:
            raise StoreError(
                f"the store's shares row is outside 2 <= threshold <= shares <= {MAX_SHARES}: "
                "the file was tampered with"
            )
    elif method == "hsm":
        object_id = parameters.get("object_id")
        if set(parameters) != {"method", "object_id"} or type(object_id) is not str or not _SALT.fullmatch(object_id):
            raise StoreError("the store's hardware-token row is not what kmslib writes: the file was tampered with")
    else:
        raise StoreError("the store's unseal row names no known method: the file was damaged or tampered with")
    return parameters


def _kdf(parameters: object) -> tuple[str, dict[str, int], bytes]:
    """``(kdf, its cost parameters, salt)`` of a passphrase's stored parameters, checked before any use.

    Raises:
        StoreError: an unknown KDF, a missing or extra field, or a value kmslib does not write.
    """
    kdf = parameters.get("kdf") if isinstance(parameters, dict) else None
    expected = _KDFS.get(kdf) if type(kdf) is str else None
    if expected is None:
        raise StoreError(
            f"the store's passphrase names an unknown key-derivation function (kmslib reads {' and '.join(_KDFS)}): "
            "the file was damaged or tampered with"
        )
    assert isinstance(parameters, dict)
    assert isinstance(kdf, str)
    costs = {name: value for name, value in expected.items() if name != "kdf"}
    salt = parameters.get("salt")
    fields = set(parameters) - {"method"} if parameters.get("method", "passphrase") == "passphrase" else None
    if (
        fields != {"kdf", "salt", *costs}
        or any(type(parameters[name]) is not int or parameters[name] != value for name, value in costs.items())
        or type(salt) is not str
        or _SALT.fullmatch(salt) is None
    ):
        written = ", ".join(f"{name}={value}" for name, value in costs.items())
        raise StoreError(
            f"the store's {kdf} parameters are not the ones kmslib writes ({written}, a {SALT_BYTES}-byte salt "
            "in hexadecimal): the file was damaged or tampered with"
        )
    return kdf, costs, bytes.fromhex(salt)


def derive_unseal_key(passphrase: bytes, parameters: dict[str, Any]) -> bytes:
    """The unseal key that ``passphrase`` gives under the stored ``parameters``.

    The parameters are checked first (as :func:`unseal_parameters` does): the KDF runs only with a
    parameter set kmslib writes.

    Raises:
        StoreError: the parameters are not ones kmslib writes, or name a KDF this OpenSSL lacks.
    """
    kdf, costs, salt = _kdf(parameters)
    if kdf == "argon2id":
        argon2id = _argon2id()
        if argon2id is None:  # pragma: no cover - OpenSSL before 3.2
            raise StoreError("the store's passphrase uses Argon2id, which this OpenSSL lacks (3.2 or later needed)")
        derived: bytes = argon2id(salt=salt, length=UNSEAL_KEY_BYTES, **costs).derive(passphrase)
        return derived
    return Scrypt(salt=salt, length=UNSEAL_KEY_BYTES, **costs).derive(passphrase)


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
    groups: list[list[str]] = _slip39().generate_mnemonics(
        1, [(threshold, shares)], unseal_key, iteration_exponent=SHARE_ITERATION_EXPONENT
    )
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
        UnsealError: a share whose words or checksum are wrong, shares of different sets, or a
            share whose iteration exponent is above :data:`SHARE_ITERATION_EXPONENT`.
        ArgumentTypeError: ``shares`` is not a list of strings.
        StoreError: ``shamir-mnemonic`` is not installed.
    """
    checked = _checked(shares, SHARE_ITERATION_EXPONENT)
    if isinstance(checked, KMSError):
        shares = None  # type: ignore[assignment]  # a traceback keeps its frames' locals: not the shares
        raise checked
    distinct, threshold, _ = checked
    return len(distinct), threshold


def _checked(shares: object, max_exponent: int) -> tuple[list[str], int, int] | KMSError:
    """What :func:`_distinct` returns, or the error it raised, stripped of its traceback (its frames held shares)."""
    try:
        return _distinct(shares, max_exponent)
    except KMSError as exc:
        exc.__traceback__ = None
        return exc


def _distinct(shares: object, max_exponent: int) -> tuple[list[str], int, int]:
    """The distinct, checked shares, their member threshold (0 for none) and their number of groups.

    Decoding a share runs no key derivation; a share whose iteration exponent is above ``max_exponent``
    is refused here, before anything combines it.
    """
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
        if share.iteration_exponent > max_exponent:
            problem = (
                f"share {number} was made with iteration exponent {share.iteration_exponent}: kmslib makes its "
                f"shares with {SHARE_ITERATION_EXPONENT} and combines none above {max_exponent} (each step doubles "
                "the work of combining them)"
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


def combine_shares(
    shares: Sequence[str],
    *,
    _slip39_passphrase: bytes = b"",
    _max_iteration_exponent: int = SHARE_ITERATION_EXPONENT,
) -> bytes:
    """The secret that ``shares`` recover (at least the threshold of one set).

    The two keyword arguments are for SLIP-0039's published test vectors, made with a passphrase
    and with iteration exponents up to 3; kmslib itself passes neither.

    Raises:
        UnsealError: too few shares, a mistyped one, shares of different sets, or a share whose
            iteration exponent is above ``_max_iteration_exponent`` (checked before the cipher
            runs). The message never repeats a share's words.
        StoreError: ``shamir-mnemonic`` is not installed.
    """
    checked = _checked(shares, _max_iteration_exponent)
    if isinstance(checked, KMSError):
        shares = None  # type: ignore[assignment]
        raise checked
    distinct, need, groups = checked
    del checked
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
