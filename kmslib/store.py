"""A sealed key store in one SQLite file, built like HashiCorp Vault's barrier (contract section 9).

The storage is untrusted; the barrier is this module. What the file holds:

- ``meta``: the format, a random store id, how to unseal (the passphrase's KDF, its parameters and
  salt, or the shares' threshold), the **root key** sealed with AES-256-GCM under the unseal key
  (see :mod:`kmslib.unsealing`), and two *manifests*: an HMAC over every key row's MAC, and one
  over the audit log's length and head, the first manifest's digest and the unseal rows' digest.
- ``keys``: one row of readable metadata per key (id, kind, algorithm, versions, state, times,
  reasons, fingerprint, and its ``lifecycle``: version states, version times, activation time and
  rotation policy, as JSON; see :mod:`kmslib.states`) with an HMAC-SHA256 under a key derived from
  the root key. The MAC covers the lifecycle like the rest of the row. A store written before
  key states existed has no ``lifecycle`` column: it opens, each key active (or revoked) with its
  versions' times taken as the key's creation time, and it gains the column at its next key change.
  An older kmslib then refuses the store (its MAC check does not cover the new column).
- ``versions``: each live key version's material (32 AES key bytes, or PKCS#8 DER) sealed with
  AES-256-GCM under a key derived from the root key, with associated data binding the store id,
  key id, version and algorithm (NIST SP 800-38D; the layout follows Vault's barrier, which binds
  each entry to its path), so a row copied to another key, version or store fails to open.
- ``audit``: the audit log's entries with their hash chain.
- ``usage``: each AES-GCM version's *reservation*, the count its encryptions may reach before a
  new one is written (see :mod:`kmslib.usage`), with an HMAC; each row's MAC is also listed in the
  keys manifest (under a name no key id can take), so a reservation edited, deleted or rolled back
  alone is detected. A store written before this table existed opens, and gains it at its first
  reservation; an older kmslib refuses a store that has reservations (its manifest lists rows
  that kmslib does not know).
- ``access``: key policies, grants, credentials' SHA-256 hashes and pending approvals
  (:mod:`kmslib.principals`), one row each, with an HMAC; the key that binds pending approvals to their
  calls is sealed with AES-256-GCM like a key version (and re-sealed by a rekey). Each row's MAC is
  listed in the keys manifest like a usage row's, so a row edited, deleted, added or copied is
  detected. Each change is one durable transaction before its call returns. A store written before
  this table existed opens, and gains it at its first change; an older kmslib refuses a store that
  has access rows (its manifest lists rows that kmslib does not know).

Opening checks everything before a custodian sees any of it: SQLite's ``quick_check``, every MAC,
every seal, the chain, and the manifest. Any failure is a :class:`~kmslib.errors.StoreError`
naming the problem, and nothing is loaded: **the whole store refuses**, not only the damaged row.
A row deleted, added, edited or swapped, and a log cut short, are all detected.
What is read before it can be authenticated is bounded first: the unseal row must hold a parameter
set kmslib writes (:func:`kmslib.unsealing.unseal_parameters`), checked before any key derivation,
and the manifests' JSON may nest at most 16 deep, checked before it is parsed (:mod:`kmslib._json`).
A refused open closes its connection, releasing the lock, before it raises.

Rekeying (:meth:`SealedStore.rekey`) rotates the root key: every sealed row is re-sealed under a
new one, in one transaction, so that the old unseal secret opens nothing in the current file. A
backup taken before keeps the old root key under the old secret: the old secret still opens it,
so destroying such backups is part of a rekey.

What this does not detect: the whole file replaced by an older copy of itself (a rollback): every
part of it is authentic. Vault has the same limit; keep the audit head of a signed checkpoint
elsewhere to notice it.

Durability. The file is in WAL mode with ``synchronous=FULL``: every key change (create, import,
derive, rotate, revoke, rekey) is one transaction, committed and flushed to disk (``fsync``)
before its call returns and before the custodian's memory changes, and the WAL is then
checkpointed into the file. The change's audit record, with every record made before it, is
written in a second durable transaction before the call returns. Records of operations that
change no key (encrypt, decrypt, sign...) are saved by a writer thread, when
:data:`AUDIT_BATCH` are unsaved and every :data:`AUDIT_INTERVAL` seconds; once
:data:`AUDIT_LIMIT` are unsaved, the recording thread writes them itself. So a crash loses at
most the last ``AUDIT_LIMIT`` records of data operations, and the record of a key change whose
call had not returned yet; never a key change, nor its record, once its call returned. A new
AES-GCM version is saved with its first usage reservation, and each later one is its own durable
transaction (one per :data:`kmslib.usage.RESERVATION_BLOCK` encryptions of the version), so a
crash makes a version's count skip ahead by at most that block, never go back.

Locking. Opening claims the store before it opens the database file, and holds the claim until
:meth:`SealedStore.close`. In this process, a registry of open stores (by the file's device and
inode) refuses a second custodian with a ``StoreError`` before any file is opened. Between
processes, an exclusive ``flock`` on a lock file beside the store (``<path>.lock``, named after
the resolved path, created readable by its owner only and never deleted) refuses another process
with a ``StoreError``. SQLite's own lock could not do this alone: it is a POSIX ``fcntl`` lock,
which the kernel drops as soon as its process closes any descriptor of the file, so a copy, a
checksum or ``Path.read_bytes`` in the holder's process would release it (SQLite's "How To
Corrupt An SQLite Database File", section 2.2). A ``flock`` lock belongs to its own open file
description, so closing other descriptors leaves it in place (Linux ``flock(2)``). The
connection still holds SQLite's exclusive lock (``locking_mode=EXCLUSIVE``) too, which other
SQLite programs respect for as long as this process closes no other descriptor of the database
file. The operating system releases both when the holder's process ends, even by ``kill -9`` (a
child it forked without ``exec`` shares the ``flock`` until it ends too). A hard link gives the
store a second name with a lock file of its own: open a store by one name.

Revoked material. A revoked version's row is deleted with ``secure_delete`` on, which overwrites
the freed space in the database file. Older copies may survive in the WAL until its next
checkpoint, in backups, and in blocks the disk itself remapped: they are sealed, so the root key
guards them (NIST SP 800-88 covers media sanitisation; SP 800-57 Part 1, section 8.3.4, key
destruction).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import hmac
import json
import marshal
import os
import secrets
import sqlite3
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmslib import _json, ceremony, unsealing
from kmslib import hsm as _hsm
from kmslib._checks import key_id as checked_key_id
from kmslib.aes import AES_MODES, AESKeyVersion
from kmslib.audit import GENESIS, AuditLog, Record
from kmslib.errors import ArgumentTypeError, InvalidInputError, KMSError, StoreError, UnsealError
from kmslib.keyinfo import KeyInfo
from kmslib.rsa import RSA_PADDINGS, RSAKeyVersion
from kmslib.signing import SIGNING_ALGORITHMS, SigningKeyVersion
from kmslib.states import STATES, Lifecycle, Material, lifecycle_of

__all__ = ["AUDIT_BATCH", "AUDIT_INTERVAL", "AUDIT_LIMIT", "FORMAT", "SealedStore", "init_store", "open_store"]

#: The store format this kmslib writes and reads; a newer one is refused.
FORMAT = 1
#: Once this many audit records are unsaved, the store's writer thread is woken to write them.
AUDIT_BATCH = 1024
#: The writer thread also writes whatever is unsaved this often, in seconds.
AUDIT_INTERVAL = 1.0
#: No more than this many audit records are ever unsaved: the recording thread writes them itself.
AUDIT_LIMIT = 4096
_SQLITE_MAGIC = b"SQLite format 3\x00"
_NONCE = 12
_ROOT_BYTES = 32
#: The deepest a manifest row's JSON may nest (kmslib's nest 3 deep); checked before it is parsed.
_MANIFEST_DEPTH = 16
_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE keys (
    key_id TEXT PRIMARY KEY, position INTEGER NOT NULL UNIQUE, kind TEXT NOT NULL, algorithm TEXT NOT NULL,
    newest INTEGER NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT, reason TEXT,
    fingerprint TEXT NOT NULL, revoked_versions TEXT NOT NULL, version_reasons TEXT NOT NULL, lifecycle TEXT,
    mac TEXT NOT NULL
);
CREATE TABLE versions (
    key_id TEXT NOT NULL, version INTEGER NOT NULL, algorithm TEXT NOT NULL, sealed BLOB NOT NULL,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE audit (
    first INTEGER PRIMARY KEY, count INTEGER NOT NULL, records BLOB NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL
);
"""
#: Usage reservations (kmslib.usage): created with the store, or at the first reservation of an older one.
#: One b-tree (no separate index), so that every page of it holds rows: a file cut short loses some of them.
_USAGE_TABLE = """CREATE TABLE IF NOT EXISTS usage (
    key_id TEXT NOT NULL, version INTEGER NOT NULL, reserved INTEGER NOT NULL, mac TEXT NOT NULL,
    PRIMARY KEY (key_id, version)
) WITHOUT ROWID"""
_KEY_COLUMNS = (
    "key_id, position, kind, algorithm, newest, state, created_at, revoked_at, reason, fingerprint, "
    "revoked_versions, version_reasons, mac"
)
#: Access control (contract section 11): key policies, grants and credentials' hashes, one row each, under a MAC.
_ACCESS_TABLE = """CREATE TABLE IF NOT EXISTS access (name TEXT PRIMARY KEY, value TEXT NOT NULL, mac TEXT NOT NULL)
WITHOUT ROWID"""
#: The column a store written before key states lacks (section 13); ALTER TABLE adds it at the first key change.
_LIFECYCLE_COLUMN = "ALTER TABLE keys ADD COLUMN lifecycle TEXT"


def _canonical(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _root_aad(store_id: str, unseal: Mapping[str, Any]) -> bytes:
    """What the sealed root key is bound to: the store and how it is unsealed."""
    return _canonical(["kmslib-store root key", FORMAT, store_id, dict(unseal)])


def _version_aad(store_id: str, key_id: str, version: int, algorithm: str) -> bytes:
    """What a sealed key version is bound to: its store, key id, version and algorithm."""
    return _canonical(["kmslib-store key version", FORMAT, store_id, key_id, version, algorithm])


def _access_name(name: str) -> str:
    """The keys manifest's name for an access row: a newline never appears in a key id."""
    return f"access\n{name}"


#: The access row that holds a sealed secret (AES-256-GCM under the barrier): the key binding pending approvals.
_SEALED_ACCESS = "secret\nbinding"


def _access_secret_aad(store_id: str, name: str) -> bytes:
    """What a sealed access secret is bound to: its store and its row."""
    return _canonical(["kmslib-store access secret", FORMAT, store_id, name])


def _usage_name(key_id: str, version: int) -> str:
    """The keys manifest's name for a version's usage row: a newline never appears in a key id."""
    return f"usage\n{key_id}\n{version}"


def _key_fields(info: KeyInfo, position: int) -> list[Any]:
    return [
        info.key_id,
        position,
        info.kind,
        info.algorithm,
        info.version,
        info.state,
        info.created_at.isoformat(),
        None if info.revoked_at is None else info.revoked_at.isoformat(),
        info.reason,
        info.fingerprint,
        json.dumps(list(info.revoked_versions)),
        json.dumps([list(pair) for pair in info.version_reasons]),
    ]


def _key_mac(barrier: _Barrier, fields: Sequence[Any], lifecycle: object) -> str:
    """A key row's MAC: over its fields, and its lifecycle if it has one (a row written before states has none)."""
    return barrier.mac(["key", list(fields)] if lifecycle is None else ["key", list(fields), lifecycle])


def _has_lifecycle(db: sqlite3.Connection) -> bool:
    """Whether the keys table has the ``lifecycle`` column (a store written before key states has not)."""
    return any(row[1] == "lifecycle" for row in db.execute("PRAGMA table_info(keys)"))


def _select_keys(db: sqlite3.Connection) -> str:
    """The query for every key row with its MAC and lifecycle (``NULL`` in a store written before states)."""
    lifecycle = "lifecycle" if _has_lifecycle(db) else "NULL"
    return f"SELECT {_KEY_COLUMNS}, {lifecycle} FROM keys ORDER BY position"  # noqa: S608 - constant columns


def _info_from(row: Sequence[Any]) -> KeyInfo:
    """The :class:`KeyInfo` of a key row (raises ValueError, TypeError or KeyError if it is malformed)."""
    revoked_at = None if row[7] is None else datetime.fromisoformat(row[7])
    created_at = datetime.fromisoformat(row[6])
    revoked_versions = frozenset(int(v) for v in json.loads(row[10]))
    life = Lifecycle.from_json(None if row[13] is None else str(row[13]), str(row[5]), created_at, int(row[4]))
    protection = "software" if row[13] is None else json.loads(str(row[13])).get("protection", "software")
    if protection not in _hsm.PROTECTIONS:
        raise ValueError("bad key row")
    info = KeyInfo(
        key_id=checked_key_id(row[0]),
        kind=str(row[2]),
        algorithm=str(row[3]),
        version=int(row[4]),
        revoked_versions=tuple(int(v) for v in json.loads(row[10])),
        state=str(row[5]),
        created_at=created_at,
        revoked_at=revoked_at,
        reason=None if row[8] is None else str(row[8]),
        fingerprint=str(row[9]),
        version_reasons=tuple((int(v), str(r)) for v, r in json.loads(row[11])),
        protection=protection,
        **life.info_fields(int(row[4]), revoked_versions),
    )
    if info.created_at.utcoffset() is None or info.version < 1 or info.state not in STATES:
        raise ValueError("bad key row")
    return info


#: The mode or padding each stored algorithm name was made with (the inverse of AES_MODES and RSA_PADDINGS).
_AES_MODE_OF = {name: mode for mode, name in AES_MODES.items()}
_RSA_PADDING_OF = {name: padding for padding, name in RSA_PADDINGS.items()}


def _lifecycle_text(info: KeyInfo) -> str:
    """A key row's lifecycle column: its :class:`Lifecycle`, and ``"protection": "hsm"`` for a key in a token."""
    text = lifecycle_of(info).to_json()
    if info.protection == "software":  # as before hardware keys: old stores' rows unchanged
        return text
    return json.dumps({**json.loads(text), "protection": info.protection}, sort_keys=True)


def _material(
    algorithm: str, secret: bytes, token: _hsm.HardwareToken | None = None
) -> AESKeyVersion | RSAKeyVersion | SigningKeyVersion | _hsm.HardwareAESKey | str | None:
    """The key material ``secret`` holds for ``algorithm``, or ``None`` if it does not fit.

    A key in a hardware token is a reference, found in ``token``; the problem, in words, if it is not there.
    """
    if secret.startswith(_hsm.REFERENCE_PREFIX):
        return _hsm.load_material(token, algorithm, secret)
    try:
        if algorithm in _AES_MODE_OF:
            return AESKeyVersion(secret, _AES_MODE_OF[algorithm])
        private: Any = serialization.load_der_private_key(secret, None)
        if algorithm in _RSA_PADDING_OF:
            return RSAKeyVersion(private, _RSA_PADDING_OF[algorithm])
        if algorithm in SIGNING_ALGORITHMS:
            return SigningKeyVersion(private, algorithm)
    except (ValueError, TypeError, KMSError):
        return None
    return None


class _Barrier:
    """The keys derived from the root key: one seals key versions, one authenticates metadata."""

    __slots__ = ("_aead", "_mac_key", "store_id")

    def __init__(self, root_key: bytes | bytearray, store_id: str) -> None:
        self.store_id = store_id
        seal_key = HKDF(hashes.SHA256(), 32, None, b"kmslib-store v1 seal").derive(bytes(root_key))
        self._aead: AESGCM | None = AESGCM(seal_key)
        self._mac_key = bytearray(HKDF(hashes.SHA256(), 32, None, b"kmslib-store v1 mac").derive(bytes(root_key)))

    def seal(self, aad: bytes, secret: bytes | bytearray) -> bytes:
        assert self._aead is not None
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, secret, aad)

    def open(self, aad: bytes, sealed: bytes) -> bytes | None:
        aead = self._aead
        if aead is None or len(sealed) < _NONCE + 16:
            return None
        try:
            return aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        except Exception:  # noqa: BLE001 - InvalidTag or a malformed blob: the same refusal
            return None

    def mac(self, value: object) -> str:
        return hmac.new(self._mac_key, _canonical([self.store_id, value]), hashlib.sha256).hexdigest()

    def destroy(self) -> None:
        self._aead = None
        self._mac_key[:] = bytes(len(self._mac_key))


def _keys_manifest(barrier: _Barrier, macs: Mapping[str, str]) -> tuple[str, str]:
    """The keys manifest's text (every key row's MAC, under a MAC) and its digest."""
    body = {"keys": sorted(macs.items())}
    text = json.dumps({**body, "mac": barrier.mac(["manifest", body])})
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def _audit_manifest(barrier: _Barrier, count: object, head: object, keys_digest: str, unseal: object) -> str:
    """The audit manifest's text: the log's length and head, and the digests that bind the rest, under a MAC.

    The digests are the keys manifest's and the unseal rows' (:func:`_unseal_digest`); an ``unseal`` of
    ``None`` leaves the latter out, as kmslib did before it bound the unseal rows.
    """
    body = {"audit": count, "head": head, "keys_digest": keys_digest, **({} if unseal is None else {"unseal": unseal})}
    return json.dumps({**body, "mac": barrier.mac(["audit manifest", body])})


def _unseal_digest(unseal_text: str, root_text: str) -> str:
    """The digest of the unseal rows as stored (the unseal parameters' JSON and the sealed root key).

    The audit manifest carries it under the root key's MAC, so that other unseal rows, even ones that
    seal the same root key under another secret, are refused.
    """
    return hashlib.sha256(_canonical(["kmslib-store unseal rows", unseal_text, root_text])).hexdigest()


def _seal_root(unseal_key: bytes, root_key: bytes | bytearray, store_id: str, unseal: Mapping[str, Any]) -> str:
    nonce = os.urandom(_NONCE)
    return (nonce + AESGCM(unseal_key).encrypt(nonce, root_key, _root_aad(store_id, unseal))).hex()


def _open_root(unseal_key: bytes, sealed_hex: str, store_id: str, unseal: Mapping[str, Any]) -> bytearray | None:
    try:
        sealed = bytes.fromhex(sealed_hex)
        return bytearray(AESGCM(unseal_key).decrypt(sealed[:_NONCE], sealed[_NONCE:], _root_aad(store_id, unseal)))
    except Exception:  # noqa: BLE001 - a wrong key, or a damaged row: both refuse to unseal
        return None


def _new_unseal(
    passphrase: object, shares: object, threshold: object, share_recipients: object = None, store_id: str = ""
) -> tuple[dict[str, Any], bytes, list[str]]:
    """How a new unseal secret will work: ``(parameters to store, unseal key, shares to hand out)``.

    With ``share_recipients``, the shares to hand out are sealed, each to its holder, for the store
    ``store_id`` (:mod:`kmslib.ceremony`), and the plaintext ones are dropped.

    Raises:
        InvalidInputError, ArgumentTypeError: not exactly one of a passphrase and shares, or bad values.
        StoreError: shares without the ``kmslib[store]`` extra.
    """
    holders = None if share_recipients is None else ceremony.recipients(share_recipients, shares)
    if (passphrase is None) == (shares is None):
        raise InvalidInputError("give exactly one of passphrase= and shares= (with threshold=)")
    if passphrase is not None:
        if threshold is not None:
            raise InvalidInputError("threshold= goes with shares=, not with a passphrase")
        parameters = {"method": "passphrase", **unsealing.passphrase_parameters()}
        return parameters, unsealing.derive_unseal_key(unsealing.passphrase_bytes(passphrase), parameters), []
    count, needed = unsealing.check_share_counts(shares, threshold)
    unseal_key = secrets.token_bytes(unsealing.UNSEAL_KEY_BYTES)
    printable = unsealing.split_unseal_key(unseal_key, count, needed)
    if holders is not None:
        try:
            printable = ceremony.seal_shares(printable, holders, store_id, needed)
        except BaseException:
            unseal_key = b""  # a traceback keeps its frames' locals
            raise
    return {"method": "shares", "shares": count, "threshold": needed}, unseal_key, printable


def _hsm_root(
    token: _hsm.HardwareToken | None,
    *,
    passphrase: object,
    shares: object,
    sealed_hex: str,
    store_id: str,
    unseal: Mapping[str, Any],
) -> bytearray:
    """The root key of a store sealed by a hardware token (auto-unseal), opened in the token.

    Raises:
        UnsealError: no token given, a passphrase or shares given instead, or the token does not hold the
            store's unseal key or it does not open the root key.
        HardwareError: the token failed.
    """
    if passphrase is not None or shares is not None or token is None:
        raise UnsealError("this store is unsealed by a hardware token: open it with hsm=HardwareToken(...) alone")
    object_id = bytes.fromhex(str(unseal["object_id"]))
    material = _hsm.load_material(token, AES_MODES["gcm"], _hsm.REFERENCE_PREFIX + object_id.hex().encode())
    if isinstance(material, str):
        raise UnsealError(f"token {token.label!r} does not hold this store's unseal key: the store stays sealed")
    try:
        sealed = bytes.fromhex(sealed_hex)
    except ValueError:
        sealed = b""
    root = material.decrypt(sealed, _root_aad(store_id, unseal))
    if root is None or len(root) != _ROOT_BYTES:
        raise UnsealError("the store's unseal key in the token does not open its root key: the store stays sealed")
    return bytearray(root)


def _hsm_unseal(token: _hsm.HardwareToken, root_key: bytes | bytearray, store_id: str) -> tuple[dict[str, Any], str]:
    """Seal ``root_key`` under a new AES-GCM key made in ``token``: ``(unseal parameters, sealed root hex)``."""
    material = _hsm.HardwareAESKey.generate(token, "gcm")
    parameters = {"method": "hsm", "object_id": material.object_id.hex()}
    sealed = material.encrypt(bytes(root_key), _root_aad(store_id, parameters))
    if not isinstance(sealed, bytes):
        raise sealed or StoreError("the token's new unseal key refused to seal the root key")
    return parameters, sealed.hex()


def _new_root(
    passphrase: object, shares: object, threshold: object, hsm: object, share_recipients: object = None
) -> tuple[dict[str, Any], bytearray, str, str, list[str]]:
    """A new store's root key, sealed: ``(unseal parameters, root key, store id, sealed root, shares to hand out)``.

    Raises:
        InvalidInputError, ArgumentTypeError: not exactly one of a passphrase, shares and a token; bad values.
        StoreError: shares without the ``kmslib[store]`` extra.
        HardwareError: the token refused.
    """
    token = _hsm.checked_token(hsm)
    if token is not None and not (passphrase is shares is threshold is share_recipients is None):
        raise InvalidInputError("hsm= unseals the store on its own: give no passphrase=, shares= or threshold=")
    root_key = bytearray(secrets.token_bytes(_ROOT_BYTES))
    store_id = secrets.token_hex(16)
    try:
        if token is not None:
            parameters, root_text = _hsm_unseal(token, root_key, store_id)
            return parameters, root_key, store_id, root_text, []
        parameters, unseal_key, printable = _new_unseal(passphrase, shares, threshold, share_recipients, store_id)
        root_text = _seal_root(unseal_key, root_key, store_id, parameters)
        unseal_key = b""
    except BaseException:
        root_key[:] = bytes(_ROOT_BYTES)
        raise
    return parameters, root_key, store_id, root_text, printable


def _unseal_key(unseal: Mapping[str, Any], passphrase: object, shares: object) -> bytes:
    """The unseal key the caller's secret gives for a store unsealed as ``unseal`` says.

    Raises:
        UnsealError: the wrong kind of secret, too few shares or a mistyped one.
        StoreError: damaged parameters.
    """
    method = unseal.get("method")
    if (passphrase is None) == (shares is None):
        raise UnsealError(f"this store is unsealed with {'a passphrase' if method == 'passphrase' else 'shares'}")
    if method == "passphrase":
        if passphrase is None:
            raise UnsealError("this store is unsealed with a passphrase, not with shares")
        return unsealing.derive_unseal_key(unsealing.passphrase_bytes(passphrase), dict(unseal))
    if method == "shares":
        if shares is None:
            raise UnsealError("this store is unsealed with shares, not with a passphrase")
        return unsealing.combine_shares(shares)  # type: ignore[arg-type]
    raise StoreError("the store's unseal parameters are damaged")


#: The stores this process holds open, by the database file's (device, inode); guarded by _HELD_LOCK.
_HELD: set[tuple[int, int]] = set()
_HELD_LOCK = threading.Lock()


class _Hold:
    """This process's claim on a store file: its place in :data:`_HELD`, and the ``flock`` on its lock file.

    SQLite's own lock is a POSIX ``fcntl`` lock, which the kernel drops as soon as its process closes any
    descriptor of the file (POSIX.1-2017, ``fcntl``; SQLite's "How To Corrupt An SQLite Database File",
    section 2.2): a copy, a checksum or a refused second open would release it. A ``flock`` lock belongs to
    the open file description instead (Linux ``flock(2)``), here on a separate lock file, so closing other
    descriptors leaves it: :meth:`release` ends it, or the end of the process.
    """

    __slots__ = ("_fd", "_identity")

    def __init__(self, identity: tuple[int, int], fd: int) -> None:
        self._identity: tuple[int, int] | None = identity
        self._fd = fd

    def release(self) -> None:
        """Unlock the lock file and leave the registry (after the connection was closed); twice does nothing."""
        identity, self._identity = self._identity, None
        if identity is None:
            return
        os.close(self._fd)  # releases the flock
        with _HELD_LOCK:
            _HELD.discard(identity)


def _lock_path(path: Path) -> Path:
    """The lock file beside the store: named after the resolved path, so a symlink to the store shares it."""
    resolved = path.resolve()
    return resolved.with_name(resolved.name + ".lock")


def _claim(path: Path) -> _Hold:
    """Claim the store at ``path`` for this process, before anything opens the database file.

    Refuses a store that another custodian in this process holds, without opening any of its files
    (closing a descriptor would drop that custodian's SQLite lock), then takes an exclusive ``flock``
    on ``<path>.lock`` (created readable by its owner only), which another process holds while it
    has the store open.

    Raises:
        StoreError: no store at ``path``, or it is open elsewhere, or its lock file cannot be used.
    """
    problem = None
    try:
        status = path.stat()
    except FileNotFoundError:
        problem = f"there is no store at {str(path)!r}"
    except OSError as exc:
        problem = f"the store at {str(path)!r} cannot be read ({type(exc).__name__})"
    if problem is not None:
        raise StoreError(problem)
    identity = (status.st_dev, status.st_ino)
    with _HELD_LOCK:
        if identity in _HELD:
            raise StoreError(
                "the store is open elsewhere: another custodian in this process holds it (close that one first)"
            )
        _HELD.add(identity)
    fd = -1
    try:
        fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        problem = "the store is open elsewhere: open in another process, which holds its lock file"
    except OSError as exc:
        problem = f"the store's lock file beside {str(path)!r} cannot be used ({type(exc).__name__})"
    if problem is None:
        with contextlib.suppress(OSError):
            status = path.stat()
        if (status.st_dev, status.st_ino) != identity:
            problem = f"the store at {str(path)!r} was replaced while it was being opened"
    if problem is not None:
        if fd >= 0:
            os.close(fd)
        with _HELD_LOCK:
            _HELD.discard(identity)
        raise StoreError(problem)
    return _Hold(identity, fd)


def _connect(path: Path) -> sqlite3.Connection:
    """An exclusive connection to an existing store file (StoreError if that is not possible).

    Called with the store claimed (:func:`_claim`): no connection of this process holds the file, so
    reading its header here releases no lock.
    """
    problem = None
    try:
        with path.open("rb") as file:
            magic = file.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        problem = f"there is no store at {str(path)!r}"
    except OSError as exc:
        problem = f"the store at {str(path)!r} cannot be read ({type(exc).__name__})"
    else:
        if magic != _SQLITE_MAGIC:
            problem = f"{str(path)!r} is not a kmslib store (not an SQLite database, or its header is damaged)"
    if problem is not None:
        raise StoreError(problem)
    connection = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None, check_same_thread=False, timeout=0.2
    )
    try:
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        connection.execute("BEGIN IMMEDIATE")  # takes the exclusive lock, held until the connection closes
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        connection.close()
        problem = _sqlite_problem(exc)
    if problem is not None:
        raise StoreError(problem)
    return connection


def _sqlite_problem(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return "the store is open elsewhere: in another process, or another custodian in this one"
    return f"the store file is corrupted or unreadable (SQLite: {text})"


@dataclass(slots=True)
class _Loaded:
    """What :func:`open_store` read and checked, for the custodian to adopt."""

    keys: list[tuple[KeyInfo, dict[int, Material]]]
    audit: list[Record]
    #: Each AES-GCM version's usage reservation, by (key id, version).
    usage: dict[tuple[str, int], int]
    #: The access rows (:mod:`kmslib.principals`): each row's value, by name.
    access: dict[str, str]


class SealedStore:
    """An open, unsealed store: the custodian's writer to the file (made by :func:`open_store`).

    It holds the derived keys (never the unseal key); :meth:`close` drops them. Every method
    runs under one lock, so the custodian's threads share one connection safely.
    """

    def __init__(
        self, connection: sqlite3.Connection, path: Path, barrier: _Barrier, root_key: bytearray, hold: _Hold
    ) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = connection
        self._hold = hold
        self._barrier = barrier
        self._root_key = root_key
        self._lock = threading.RLock()
        self._macs: dict[str, str] = {}
        self._positions: dict[str, int] = {}
        self._audit_count = 0
        self._audit_head = GENESIS
        self._keys_digest = ""
        self._unseal_digest = ""
        #: The hardware token that holds this store's keys in a token (contract section 12), if any.
        self._hsm: _hsm.HardwareToken | None = None
        #: Whether the keys table has its lifecycle column (a store written before key states gains it).
        self._lifecycle = _has_lifecycle(connection)
        self._stop = threading.Event()
        self._wake: threading.Event | None = None
        self._writer: threading.Thread | None = None
        self._at_exit: Callable[[], None] | None = None

    # ------------------------------------------------------------------ writing

    def _transaction(self, statements: Sequence[tuple[str, Sequence[Any]]], *, checkpoint: bool = True) -> None:
        """Run ``statements`` as one durable transaction (with the lock held).

        With ``checkpoint`` (every key change), the WAL is then copied into the database file and
        emptied, so that it holds nothing but the change being made; audit batches skip this.
        """
        db = self._db
        if db is None:
            raise StoreError("the store is closed")
        problem = None
        try:
            db.execute("BEGIN IMMEDIATE")
            for sql, parameters in statements:
                db.execute(sql, parameters)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            problem = _sqlite_problem(exc)
        except BaseException:  # an interruption, or memory running out: nothing half-done stays open
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        if problem is not None:
            raise StoreError(f"the change was not saved: {problem}")
        if not checkpoint:
            return
        with contextlib.suppress(sqlite3.Error):  # committed already; a failed checkpoint is retried by the next
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _audit_manifest_row(self, count: int, head: str, keys_digest: str) -> tuple[str, Sequence[Any]]:
        """The audit manifest's row: the log's length and head, bound to the keys manifest's digest.

        Two manifest rows, so that saving audit records costs the same however many keys there are;
        the digest binds them, so that neither can be rolled back alone.
        """
        text = _audit_manifest(self._barrier, count, head, keys_digest, self._unseal_digest)
        return "INSERT OR REPLACE INTO meta VALUES ('audit_manifest', ?)", [text]

    def save_key(self, info: KeyInfo, new_versions: Mapping[int, Any]) -> None:
        """Write a key's record, its new versions (sealed), and drop its revoked versions' rows: durably.

        Raises:
            StoreError: it could not be written; the file is as it was.
        """
        with self._lock:
            position = self._positions.get(info.key_id, len(self._positions))
            fields, lifecycle = _key_fields(info, position), _lifecycle_text(info)
            mac = _key_mac(self._barrier, fields, lifecycle)
            statements: list[tuple[str, Sequence[Any]]] = [] if self._lifecycle else [(_LIFECYCLE_COLUMN, [])]
            statements.append(
                (
                    f"INSERT OR REPLACE INTO keys ({_KEY_COLUMNS}, lifecycle) VALUES ({', '.join('?' * 14)})",  # noqa: S608 - constant columns
                    [*fields, mac, lifecycle],
                )
            )
            usage: dict[str, str] = {}
            for version, material in new_versions.items():
                counter = getattr(material, "usage", None)  # an AES-GCM version's first reservation, saved with it
                if counter is not None:
                    statement, usage[_usage_name(info.key_id, version)] = self._usage_row(
                        info.key_id, version, counter.reserved
                    )
                    statements += [(_USAGE_TABLE, []), statement]
                aad = _version_aad(self._barrier.store_id, info.key_id, version, material.algorithm)
                sealed = material.sealed(lambda secret, aad=aad: self._barrier.seal(aad, secret))
                if sealed is None:
                    raise StoreError("a key version was destroyed before it could be saved")
                statements.append(
                    ("INSERT INTO versions VALUES (?, ?, ?, ?)", [info.key_id, version, material.algorithm, sealed])
                )
            for version in info.revoked_versions:
                statements.append(("DELETE FROM versions WHERE key_id = ? AND version = ?", [info.key_id, version]))
            macs = {**self._macs, info.key_id: mac, **usage}
            keys_text, keys_digest = _keys_manifest(self._barrier, macs)
            statements.append(("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", [keys_text]))
            statements.append(self._audit_manifest_row(self._audit_count, self._audit_head, keys_digest))
            self._transaction(statements)
            self._macs, self._positions[info.key_id], self._keys_digest = macs, position, keys_digest
            self._lifecycle = True

    def reserver(self, key_id: str, version: int) -> Callable[[int], None]:
        """The function that durably saves ``version`` of ``key_id``'s usage reservation (see :meth:`save_usage`)."""
        return lambda reserved: self.save_usage(key_id, version, reserved)

    def _usage_row(self, key_id: str, version: int, reserved: int) -> tuple[tuple[str, Sequence[Any]], str]:
        """The statement that saves a usage reservation, and the row's MAC (for the keys manifest)."""
        mac = self._barrier.mac(["usage", key_id, version, reserved])
        return ("INSERT OR REPLACE INTO usage VALUES (?, ?, ?, ?)", [key_id, version, reserved, mac]), mac

    def save_usage(self, key_id: str, version: int, reserved: int) -> None:
        """Durably save a key version's usage reservation, with its MAC listed in the keys manifest.

        One transaction per :data:`kmslib.usage.RESERVATION_BLOCK` encryptions of a version.

        Raises:
            StoreError: it could not be written; the file is as it was.
        """
        with self._lock:
            statement, mac = self._usage_row(key_id, version, reserved)
            macs = {**self._macs, _usage_name(key_id, version): mac}
            keys_text, keys_digest = _keys_manifest(self._barrier, macs)
            self._transaction(
                [
                    (_USAGE_TABLE, []),
                    statement,
                    ("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", [keys_text]),
                    self._audit_manifest_row(self._audit_count, self._audit_head, keys_digest),
                ],
                checkpoint=False,
            )
            self._macs, self._keys_digest = macs, keys_digest

    def save_access(self, name: str, value: str | None) -> None:
        """Durably save (or, with ``value=None``, delete) an access row, its MAC listed in the keys manifest.

        Raises:
            StoreError: it could not be written; the file is as it was.
        """
        with self._lock:
            macs = dict(self._macs)
            if value is None:
                statement: tuple[str, Sequence[Any]] = ("DELETE FROM access WHERE name = ?", [name])
                macs.pop(_access_name(name), None)
            else:
                macs[_access_name(name)] = mac = self._barrier.mac(["access", name, value])
                statement = ("INSERT OR REPLACE INTO access VALUES (?, ?, ?)", [name, value, mac])
            keys_text, keys_digest = _keys_manifest(self._barrier, macs)
            self._transaction(
                [
                    (_ACCESS_TABLE, []),
                    statement,
                    ("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", [keys_text]),
                    self._audit_manifest_row(self._audit_count, self._audit_head, keys_digest),
                ]
            )
            self._macs, self._keys_digest = macs, keys_digest

    def seal_access_secret(self, secret: bytes) -> str:
        """``secret`` sealed under the barrier for the row :data:`_SEALED_ACCESS`, as hex (for :meth:`save_access`)."""
        with self._lock:
            return self._barrier.seal(_access_secret_aad(self._barrier.store_id, _SEALED_ACCESS), secret).hex()

    def open_access_secret(self, sealed: str) -> bytes | None:
        """The secret :meth:`seal_access_secret` sealed, or ``None`` if it fails its check."""
        with self._lock:
            try:
                blob = bytes.fromhex(sealed)
            except ValueError:
                return None
            return self._barrier.open(_access_secret_aad(self._barrier.store_id, _SEALED_ACCESS), blob)

    def write_audit(self, first: int, records: list[Record]) -> None:
        """Append the audit records numbered from ``first`` durably, as one batch chained to the one before.

        The batch is stored packed (see :func:`_pack`) with ``hash = SHA-256(previous batch's hash ||
        packed)``, and the manifest keeps the last hash and the count: the chain of batches leads to
        a head under the store's MAC. The audit log's own chain is recomputed from the records when
        it is read, and comes out the same.

        Raises:
            StoreError: it could not be written, or the records do not follow the stored ones.
        """
        with self._lock:
            if first != self._audit_count:
                raise StoreError(f"audit records from {first} do not follow the {self._audit_count} stored")
            body = _pack(records)
            digest = hashlib.sha256(self._audit_head.encode("ascii") + body).hexdigest()
            count = first + len(records)
            self._transaction(
                [
                    ("INSERT INTO audit VALUES (?, ?, ?, ?, ?)", [first, len(records), body, self._audit_head, digest]),
                    self._audit_manifest_row(count, digest, self._keys_digest),
                ],
                checkpoint=False,
            )
            self._audit_count, self._audit_head = count, digest

    def start_writer(self, log: AuditLog) -> threading.Event:
        """Save ``log``'s records from a thread of this store's: when woken, and every :data:`AUDIT_INTERVAL`.

        Returns:
            The event that wakes the writer (the log sets it once a batch is unsaved).
        """
        wake = threading.Event()
        stop = self._stop

        def run() -> None:
            while not stop.is_set():
                wake.wait(AUDIT_INTERVAL)
                wake.clear()
                try:
                    log.flush()
                except StoreError as exc:  # retried at the next wake; the recording threads write at the limit
                    warnings.warn(f"the audit log could not be saved yet: {exc}", RuntimeWarning, stacklevel=1)

        self._writer = threading.Thread(target=run, name=f"kmslib audit writer {self.path.name}", daemon=True)
        self._wake = wake
        self._writer.start()
        self._at_exit = log.flush  # a process that ends without close() still saves its log
        atexit.register(self._at_exit)
        return wake

    def rekey(
        self, current: object, passphrase: object, shares: object, threshold: object, share_recipients: object = None
    ) -> list[str]:
        """Replace the unseal secret and rotate the root key: every sealed row is re-sealed, in one transaction.

        A new random root key replaces the old one. Every key version's sealed row, every key row's
        MAC, both manifests and the unseal rows are rewritten under it, in one durable transaction:
        all of it is saved, or (on any failure) none of it, and the store keeps its old secret and
        root key. The old secret then opens nothing in the current file. A backup taken before is
        another matter: it still holds the old root key under the old secret, so it stays readable
        with the old secret until it is destroyed.

        Args:
            current: the current passphrase, or a list of current shares (at least the threshold).
            passphrase: the new passphrase; or
            shares: the number of new shares, with
            threshold: how many of them unseal.
            share_recipients: one public key PEM per new share, to seal each to (:mod:`kmslib.ceremony`).

        Returns:
            The new shares (printable, shown once; sealed if ``share_recipients`` was given), or ``[]``
            for a passphrase.

        Raises:
            UnsealError: ``current`` does not unseal this store.
            InvalidInputError, ArgumentTypeError: bad new values.
            StoreError: the store is closed, a row on disk changed since the store was opened, or the
                change could not be written; the store is as it was.
        """
        with self._lock:
            db = self._db
            if db is None:
                raise StoreError("the store is closed")
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
            unseal = unsealing.unseal_parameters(meta["unseal"])
            if unseal["method"] == "hsm":
                raise InvalidInputError(
                    "this store is unsealed by a hardware token (auto-unseal): rekey replaces a passphrase or shares"
                )
            as_shares = not isinstance(current, (str, bytes, bytearray))
            old_key: bytes | None = _unseal_key(unseal, None if as_shares else current, current if as_shares else None)
            assert old_key is not None
            opened = _open_root(old_key, meta["root"], self._barrier.store_id, unseal)
            if opened is None or not hmac.compare_digest(bytes(opened), bytes(self._root_key)):
                current = old_key = opened = None  # a traceback keeps its frames' locals
                raise UnsealError("the current unseal secret is wrong: the store keeps its old one")
            current = old_key = opened = None
            store_id = self._barrier.store_id
            parameters, unseal_key, printable = _new_unseal(passphrase, shares, threshold, share_recipients, store_id)
            root_key = bytearray(secrets.token_bytes(_ROOT_BYTES))
            barrier = _Barrier(root_key, self._barrier.store_id)
            try:
                statements, macs = self._resealed(db, barrier)
                unseal_text = json.dumps(parameters)
                root_text = _seal_root(unseal_key, root_key, barrier.store_id, parameters)
                unseal_key = b""
                unseal_digest = _unseal_digest(unseal_text, root_text)
                keys_text, keys_digest = _keys_manifest(barrier, macs)
                audit_text = _audit_manifest(barrier, self._audit_count, self._audit_head, keys_digest, unseal_digest)
                statements += [
                    ("UPDATE meta SET value = ? WHERE name = 'unseal'", [unseal_text]),
                    ("UPDATE meta SET value = ? WHERE name = 'root'", [root_text]),
                    ("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", [keys_text]),
                    ("INSERT OR REPLACE INTO meta VALUES ('audit_manifest', ?)", [audit_text]),
                ]
                self._transaction(statements)
            except BaseException:
                barrier.destroy()
                root_key[:] = bytes(_ROOT_BYTES)
                raise
            old_barrier, old_root = self._barrier, self._root_key
            self._barrier, self._root_key = barrier, root_key
            self._macs, self._keys_digest, self._unseal_digest = macs, keys_digest, unseal_digest
            old_barrier.destroy()
            old_root[:] = bytes(len(old_root))
            return printable

    def _resealed(
        self, db: sqlite3.Connection, barrier: _Barrier
    ) -> tuple[list[tuple[str, Sequence[Any]]], dict[str, str]]:
        """The statements that re-seal every key version and re-MAC every key row under ``barrier``, and the MACs.

        Every row is checked under the current root key first, against what was loaded: a row changed
        on disk since the store was opened is refused, not re-sealed (that would make it authentic).

        Raises:
            StoreError: a row changed on disk since the store was opened.
        """
        old = self._barrier
        statements: list[tuple[str, Sequence[Any]]] = []
        macs: dict[str, str] = {}
        for row in db.execute(_select_keys(db)):
            fields, mac = list(row[:12]), str(row[12])
            if not hmac.compare_digest(mac, self._macs.get(str(row[0]), "")) or not hmac.compare_digest(
                mac, _key_mac(old, fields, row[13])
            ):
                raise StoreError(f"the row of key {str(row[0])!r} changed on disk since the store was opened")
            macs[str(row[0])] = _key_mac(barrier, fields, row[13])
            statements.append(("UPDATE keys SET mac = ? WHERE key_id = ?", [macs[str(row[0])], row[0]]))
        for key_id, version, reserved, mac in _usage_rows(db):
            name = _usage_name(key_id, version)
            if not hmac.compare_digest(str(mac), self._macs.get(name, "")) or not hmac.compare_digest(
                str(mac), old.mac(["usage", key_id, version, reserved])
            ):
                raise StoreError(f"the usage row of version {version} of key {key_id!r} changed on disk")
            macs[name] = barrier.mac(["usage", key_id, version, reserved])
            statements.append(
                ("UPDATE usage SET mac = ? WHERE key_id = ? AND version = ?", [macs[name], key_id, version])
            )
        for name, stored, mac in _access_rows(db):
            value = stored
            if not hmac.compare_digest(str(mac), self._macs.get(_access_name(name), "")) or not hmac.compare_digest(
                str(mac), old.mac(["access", name, value])
            ):
                raise StoreError("an access row (a key policy, grant or credential) changed on disk")
            if name == _SEALED_ACCESS:  # re-sealed under the new root key, like a key version
                aad = _access_secret_aad(old.store_id, name)
                secret = old.open(aad, bytes.fromhex(json.loads(value)))  # the MAC above vouches for its form
                if secret is None:
                    raise StoreError("a sealed access row changed on disk since the store was opened")
                value = json.dumps(barrier.seal(aad, secret).hex())
                del secret
            macs[_access_name(name)] = barrier.mac(["access", name, value])
            statements.append(
                ("UPDATE access SET value = ?, mac = ? WHERE name = ?", [value, macs[_access_name(name)], name])
            )
        if macs.keys() != self._macs.keys():
            raise StoreError("the store's keys changed on disk since it was opened")
        for key_id, version, algorithm, sealed in db.execute("SELECT key_id, version, algorithm, sealed FROM versions"):
            aad = _version_aad(old.store_id, key_id, version, algorithm)
            secret = old.open(aad, sealed)
            if secret is None:
                raise StoreError(
                    f"the sealed material of version {version} of key {key_id!r} changed on disk since the store "
                    "was opened"
                )
            statements.append(
                (
                    "UPDATE versions SET sealed = ? WHERE key_id = ? AND version = ?",
                    [barrier.seal(aad, secret), key_id, version],
                )
            )
            del secret
        return statements, macs

    def close(self) -> None:
        """Stop the writer thread, checkpoint the WAL into the file, release the lock, drop the derived keys.

        The custodian saves its audit log (:meth:`AuditLog.flush`) before it calls this.
        """
        self._stop.set()
        if self._at_exit is not None:
            atexit.unregister(self._at_exit)
        if self._wake is not None:
            self._wake.set()
        if self._writer is not None and self._writer is not threading.current_thread():
            self._writer.join()
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                with contextlib.suppress(sqlite3.Error):  # the file stays valid; SQLite checkpoints later
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                try:
                    db.close()
                finally:
                    self._hold.release()  # once the connection is closed
            self._barrier.destroy()
            self._root_key[:] = bytes(len(self._root_key))

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._db is None

    def __repr__(self) -> str:
        return f"SealedStore(path={str(self.path)!r}, closed={self.closed})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a SealedStore cannot be pickled: it holds the store's keys")

    # ------------------------------------------------------------------ reading

    def _load(self) -> _Loaded | str:  # noqa: PLR0911, PLR0912, PLR0915 - one refusal for each check, each with its own message
        """Every key, version and audit entry, checked; or the problem that refuses the store."""
        db = self._db
        assert db is not None
        barrier = self._barrier
        key_rows = db.execute(_select_keys(db)).fetchall()
        version_rows = db.execute("SELECT key_id, version, algorithm, sealed FROM versions").fetchall()
        audit_rows = db.execute("SELECT first, count, records, prev, hash FROM audit ORDER BY first").fetchall()
        meta = dict(db.execute("SELECT name, value FROM meta WHERE name IN ('manifest', 'audit_manifest')").fetchall())
        usage = _usage(db, barrier)
        access = _access(db, barrier)
        manifest = _json.loads(meta["manifest"], what="manifest", max_depth=_MANIFEST_DEPTH)
        audit_manifest = _json.loads(meta["audit_manifest"], what="audit manifest", max_depth=_MANIFEST_DEPTH)
        body = {"keys": manifest.get("keys"), **{k: audit_manifest.get(k) for k in ("audit", "head", "keys_digest")}}
        bound = audit_manifest.get("unseal")  # absent only in a store no kmslib that binds them has written to
        keys_text, keys_digest = _keys_manifest(barrier, dict(map(tuple, manifest.get("keys") or [])))
        if not hmac.compare_digest(json.loads(keys_text)["mac"], str(manifest.get("mac"))):
            return "the store's manifest fails its check: the file was tampered with"
        if json.loads(_audit_manifest(barrier, body["audit"], body["head"], keys_digest, bound)) != audit_manifest:
            return "the store's audit manifest fails its check: the file was tampered with, or partly rolled back"
        if bound is not None and not hmac.compare_digest(str(bound), self._unseal_digest):
            return (
                "the store's unseal rows are not the ones its manifest covers: they were replaced "
                "(an old secret's rows written back?)"
            )
        infos: list[KeyInfo] = []
        macs: dict[str, str] = {}
        for row in key_rows:
            if not hmac.compare_digest(str(row[12]), _key_mac(barrier, row[:12], row[13])):
                return f"the row of key {str(row[0])!r} fails its check: it was tampered with"
            infos.append(_info_from(row))
            macs[infos[-1].key_id] = row[12]
        if isinstance(usage, str) or isinstance(access, str):
            return usage if isinstance(usage, str) else str(access)
        macs.update(
            {_usage_name(*name): mac for name, (_, mac) in usage.items()}
            | {_access_name(name): mac for name, (_, mac) in access.items()}
        )
        if sorted(macs.items()) != [tuple(pair) for pair in body["keys"] or []]:
            return "the store's keys differ from its manifest: a key row was added, removed or rolled back"
        sealed = {(row[0], row[1]): (row[2], row[3]) for row in version_rows}
        keys: list[tuple[KeyInfo, dict[int, Any]]] = []
        for info in infos:
            versions: dict[int, Any] = {}
            keys.append((info, versions))
            for version in range(1, info.version + 1):
                if version in info.revoked_versions:
                    continue
                algorithm, blob = sealed.pop((info.key_id, version), (None, b""))
                secret = barrier.open(_version_aad(barrier.store_id, info.key_id, version, info.algorithm), blob)
                found = secret is not None and algorithm == info.algorithm
                material = _material(algorithm, secret, self._hsm) if found else None  # type: ignore[arg-type]
                del secret
                if isinstance(material, str):
                    _destroy(keys)
                    return f"version {version} of key {info.key_id!r} cannot be loaded: {material}"
                if material is None:
                    _destroy(keys)
                    return (
                        f"the sealed material of version {version} of key {info.key_id!r} is missing, or fails its "
                        "check: tampered with, or moved from another row"
                    )
                versions[version] = material
        records = _audit_records(audit_rows, body["head"])
        if sealed:  # rows that belong to no live version (or no key): added, or left behind
            problem = "the store holds sealed rows that belong to no live key version: the file was tampered with"
        elif records is None or len(records) != body["audit"]:
            problem = "the store's audit log fails its check: edited, reordered or cut short"
        else:
            self._macs = macs
            self._positions = {info.key_id: position for position, (info, _) in enumerate(keys)}
            self._audit_count, self._audit_head = len(records), body["head"]
            self._keys_digest = keys_digest
            return _Loaded(
                keys,
                records,
                {name: reserved for name, (reserved, _) in usage.items()},
                {name: value for name, (value, _) in access.items()},
            )
        _destroy(keys)
        return problem


def _access_rows(db: sqlite3.Connection) -> list[Any]:
    """Every access row as stored, unchecked (none in a store made before the table existed)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'access'").fetchone() is None:
        return []
    return db.execute("SELECT name, value, mac FROM access").fetchall()


def _access(db: sqlite3.Connection, barrier: _Barrier) -> dict[str, tuple[str, str]] | str:
    """Each access row, checked against its MAC: ``{name: (value, MAC)}``; or the problem."""
    rows: dict[str, tuple[str, str]] = {}
    for name, value, mac in _access_rows(db):
        if not (isinstance(name, str) and isinstance(value, str) and isinstance(mac, str)):
            return "an access row is malformed: the file was tampered with"
        if not hmac.compare_digest(mac, barrier.mac(["access", name, value])):
            return "an access row (a key policy, grant or credential) fails its check: it was tampered with"
        rows[name] = (value, mac)
    return rows


def _usage_rows(db: sqlite3.Connection) -> list[Any]:
    """Every usage row as stored, unchecked (none in a store made before the table existed)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage'").fetchone() is None:
        return []
    return db.execute("SELECT key_id, version, reserved, mac FROM usage").fetchall()


def _usage(db: sqlite3.Connection, barrier: _Barrier) -> dict[tuple[str, int], tuple[int, str]] | str:
    """Each usage row, checked against its MAC: ``{(key id, version): (reservation, MAC)}``; or the problem.

    A store written before the table existed has none.
    """
    usage: dict[tuple[str, int], tuple[int, str]] = {}
    for key_id, version, reserved, mac in _usage_rows(db):
        expected = barrier.mac(["usage", key_id, version, reserved])
        if type(key_id) is not str or type(version) is not int or type(reserved) is not int:
            return "a usage reservation row is malformed: the file was tampered with"
        if not hmac.compare_digest(str(mac), expected):
            return f"the usage reservation of version {version} of key {key_id!r} fails its check: it was tampered with"
        usage[(key_id, version)] = (reserved, str(mac))
    return usage


def _pack(records: list[Record]) -> bytes:
    """Audit records as bytes: ``marshal`` (format 4) of ``(time, operation, key id, version, outcome)`` tuples.

    A principal's record (never the owner's) has the principal's name as a sixth item.

    ``marshal`` is chosen for speed, since the store's writer thread shares the interpreter with the
    hot path: about 0.1 microseconds a record, against 0.7 for JSON. Python's documentation warns
    that ``marshal`` is not meant for untrusted data, so :func:`_audit_records` unpacks a batch only
    after its hash has been checked along the chain that leads to the manifest's head, which only
    the root key can authenticate. Times from an injected clock (datetimes) are stored as ISO text.
    """
    try:
        return marshal.dumps(records, 4)
    except ValueError:  # a datetime from an injected clock
        return marshal.dumps([(r[0].isoformat() if isinstance(r[0], datetime) else r[0], *r[1:]) for r in records], 4)


def _audit_records(rows: list[Any], head: object) -> list[Record] | None:  # noqa: PLR0911 - one refusal per check
    """The records of the stored audit batches, or ``None`` if a batch is out of place, edited or malformed.

    Every batch's hash is checked, back to ``head`` (the manifest's, under the MAC), before any is unpacked.
    """
    prev, first = GENESIS, 0
    for start, count, body, stored_prev, digest in rows:
        if start != first or stored_prev != prev or not isinstance(body, bytes):
            return None
        if hashlib.sha256(prev.encode("ascii") + body).hexdigest() != digest:
            return None
        prev, first = digest, first + count
    if prev != head:
        return None
    records: list[Record] = []
    for _, count, body, _, _ in rows:
        batch = marshal.loads(body)  # noqa: S302 - authenticated above: the hash chain to the MAC'd head
        if not isinstance(batch, list) or len(batch) != count:
            return None
        for record in batch:
            if not isinstance(record, tuple) or len(record) not in {5, 6}:
                return None
            when, operation, key_id, version, result = record[:5]
            ok = isinstance(operation, str) and isinstance(result, str) and (key_id is None or isinstance(key_id, str))
            ok = ok and (len(record) == 5 or isinstance(record[5], str))
            if not ok or not (version is None or type(version) is int) or not isinstance(when, (str, float)):
                return None
            records.append((datetime.fromisoformat(when) if isinstance(when, str) else when, *record[1:]))
    return records


def _destroy(keys: list[tuple[KeyInfo, dict[int, Any]]]) -> None:
    """Drop the materials loaded so far (the store is refused)."""
    for _, versions in keys:
        for material in versions.values():
            material.destroy()


def init_store(
    path: str | os.PathLike[str],
    *,
    passphrase: str | bytes | None = None,
    shares: int | None = None,
    threshold: int | None = None,
    share_recipients: Sequence[str | bytes] | None = None,
    hsm: object = None,
) -> list[str]:
    """Create a new, empty sealed store at ``path`` (refusing an existing file).

    Args:
        path: the new store file.
        passphrase: unseal with this passphrase (stretched with Argon2id, else scrypt); or
        shares: split the unseal key into this many SLIP-0039 shares (2 to 16), with
        threshold: how many of them unseal the store (2 to ``shares``).
        share_recipients: with ``shares``, one public key PEM per share, in order: each share is then
            sealed to its holder with HPKE (RFC 9180), and no plaintext share leaves this call
            (Vault's ``-pgp-keys``; see :mod:`kmslib.ceremony`). Holders open theirs with
            :func:`kmslib.open_share`.
        hsm: instead of a passphrase or shares, a :class:`kmslib.HardwareToken`: auto-unseal (contract section
            12, as Vault's ``pkcs11`` seal). The root key is sealed with AES-256-GCM by a new non-extractable key
            made in the token, so opening needs the token (``KeyCustodian.open(path, hsm=token)``), no
            passphrase, and the file alone opens nothing; whoever holds the token and its PIN opens the store.

    Returns:
        The printable shares (hand one to each holder: they are shown only now), each sealed to its
        holder if ``share_recipients`` was given, or ``[]`` for a passphrase or a token.

    Raises:
        StoreError: a file exists at ``path``, it cannot be created, or shares were asked for
            without the ``kmslib[store]`` extra.
        InvalidInputError, ArgumentTypeError: not exactly one of ``passphrase``, ``shares`` and ``hsm``, or bad
            values, bad ``share_recipients`` among them (checked before anything is written).
        HardwareError: the token refused to make or use the unseal key.

    """
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"path must be a str or path, not {type(path).__name__}")
    target = Path(path)
    if target.exists() or target.is_symlink():
        raise StoreError(f"a file already exists at {str(target)!r}: init_store never overwrites")
    parameters, root_key, store_id, root_text, printable = _new_root(
        passphrase, shares, threshold, hsm, share_recipients
    )
    barrier = _Barrier(root_key, store_id)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.new")
    problem = None
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # readable by its owner only
        db = sqlite3.connect(temporary, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA + _USAGE_TABLE + ";")
            keys_text, keys_digest = _keys_manifest(barrier, {})
            unseal_text = json.dumps(parameters)
            rows = {
                "format": str(FORMAT),
                "store_id": store_id,
                "unseal": unseal_text,
                "root": root_text,
                "manifest": keys_text,
                "audit_manifest": _audit_manifest(
                    barrier, 0, GENESIS, keys_digest, _unseal_digest(unseal_text, root_text)
                ),
            }
            db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
            db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        os.link(temporary, target)  # fails if the path was taken meanwhile: never overwrites
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except FileExistsError:
        problem = f"a file already exists at {str(target)!r}: init_store never overwrites"
    except (OSError, sqlite3.Error) as exc:
        problem = f"the store could not be created at {str(target)!r} ({type(exc).__name__})"
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + "-wal")):
            leftover.unlink(missing_ok=True)
        barrier.destroy()
        root_key[:] = bytes(_ROOT_BYTES)
    if problem is not None:
        printable = []
        raise StoreError(problem)
    return printable


def open_store(
    path: str | os.PathLike[str], *, passphrase: object = None, shares: object = None, hsm: object = None
) -> tuple[SealedStore, _Loaded]:
    """Open and unseal the store at ``path``, check all of it, and return it with what it holds.

    Raises:
        UnsealError: a wrong passphrase, too few shares, wrong or mistyped ones; nothing was written.
        StoreError: no store there, a store open elsewhere, a corrupted, tampered or newer-format file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"path must be a str or path, not {type(path).__name__}")
    hold = _claim(Path(path))  # first: refused before any file of a store held here is opened
    db: sqlite3.Connection | None = None
    loaded: tuple[SealedStore, _Loaded] | str | BaseException = "the store could not be opened"
    try:
        db = _connect(Path(path))
        loaded = _open(db, Path(path), hold, passphrase, shares, _hsm.checked_token(hsm))
    except KMSError as exc:  # first: kmslib's InvalidInputError is a ValueError too
        loaded = exc
    except (sqlite3.Error, ValueError, TypeError, KeyError, IndexError, AttributeError, EOFError) as exc:
        loaded = StoreError(
            _sqlite_problem(exc) if isinstance(exc, sqlite3.Error) else "the store file is malformed or tampered with"
        )
    except BaseException as exc:  # noqa: BLE001 - MemoryError, KeyboardInterrupt...: raised below, as refusals are
        loaded = exc
    finally:
        if not isinstance(loaded, tuple):  # refused: the connection first, then the lock (a kept error keeps neither)
            if db is not None:
                db.close()
            hold.release()
    if isinstance(loaded, tuple):
        store, content = loaded
        return store, content
    db = passphrase = shares = None  # a traceback keeps its frames' locals
    error = StoreError(loaded) if isinstance(loaded, str) else loaded
    error.__traceback__ = error.__cause__ = error.__context__ = None  # no frame that held the secret or connection
    raise error


def _open(  # noqa: PLR0911, PLR0917 - one refusal for each problem, each with its own message
    db: sqlite3.Connection,
    path: Path,
    hold: _Hold,
    passphrase: object,
    shares: object,
    token: _hsm.HardwareToken | None,
) -> tuple[SealedStore, _Loaded] | str:
    """Unseal and load an exclusive connection's store; the problem that refuses it otherwise."""
    if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
        return "the store file is corrupted (SQLite's quick_check fails)"
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return "the store file is not in WAL mode: it was not written by kmslib"
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"meta", "keys", "versions", "audit"} <= tables:
        return "the file is an SQLite database, but not a kmslib store"
    meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
    if "format" not in meta or not str(meta["format"]).isdigit():
        return "the file is an SQLite database, but not a kmslib store"
    if int(meta["format"]) > FORMAT:
        return f"the store has format {meta['format']}, newer than this kmslib reads ({FORMAT}): upgrade kmslib"
    store_id, unseal = str(meta["store_id"]), unsealing.unseal_parameters(meta["unseal"])
    if unseal["method"] == "hsm":
        root_key: bytearray | None = _hsm_root(
            token, passphrase=passphrase, shares=shares, sealed_hex=meta["root"], store_id=store_id, unseal=unseal
        )
    else:
        unseal_key = _unseal_key(unseal, passphrase, shares)
        root_key = _open_root(unseal_key, meta["root"], store_id, unseal)
        del unseal_key
    if root_key is None:
        wrong = (
            "the passphrase is wrong"
            if unseal.get("method") == "passphrase"
            else "the shares do not unseal this store (they are another store's, or a rekey replaced them)"
        )
        raise UnsealError(f"{wrong}: the store stays sealed and unchanged")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA secure_delete=ON")
    store = SealedStore(db, path, _Barrier(root_key, store_id), root_key, hold)
    store._hsm = token
    store._unseal_digest = _unseal_digest(str(meta["unseal"]), str(meta["root"]))
    loaded: _Loaded | str = "the store could not be loaded"
    try:
        loaded = store._load()
    finally:  # a refusal, or an exception on its way out: the caller closes the connection
        if isinstance(loaded, str):
            store._db = None
            store._barrier.destroy()
            root_key[:] = bytes(len(root_key))
    if isinstance(loaded, str):
        return loaded
    return store, loaded
