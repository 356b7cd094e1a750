"""``rekey`` rotates the root key (contract section 9): an old secret with an old backup reads nothing newer.

The attacker here holds the old passphrase and a backup taken before the rekey, and works offline with the
store's own helper functions, as anyone who reads kmslib's source can.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import kmslib
from helpers import leaks
from kmslib import KeyCustodian, StoreError, UnsealError
from kmslib.store import _audit_manifest, _Barrier, _new_unseal, _open_root, _seal_root, _unseal_key, _version_aad

OLD = "old passphrase of a departed admin"
NEW = "new passphrase after the rekey"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=OLD)
    return path


def rows(path: Path, sql: str) -> list[Any]:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def meta_of(path: Path) -> dict[str, str]:
    return dict(rows(path, "SELECT name, value FROM meta"))


def root_key_from(path: Path, passphrase: str) -> bytearray | None:
    """What an attacker with ``passphrase`` derives from the file at ``path``: its root key, or ``None``."""
    meta = meta_of(path)
    unseal = json.loads(meta["unseal"])
    return _open_root(_unseal_key(unseal, passphrase, None), meta["root"], meta["store_id"], unseal)


def readable_rows(path: Path, root_key: bytearray) -> list[tuple[str, int]]:
    """The (key id, version) of every sealed row of ``path`` that ``root_key`` opens."""
    meta = meta_of(path)
    barrier = _Barrier(root_key, meta["store_id"])
    found = rows(path, "SELECT key_id, version, algorithm, sealed FROM versions ORDER BY key_id, version")
    return [
        (key_id, version)
        for key_id, version, algorithm, sealed in found
        if barrier.open(_version_aad(meta["store_id"], key_id, version, algorithm), sealed) is not None
    ]


def test_an_old_backup_and_the_old_passphrase_cannot_read_the_current_file(store: Path, tmp_path: Path) -> None:
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        kms.establish_aes_key("before")
        kms.generate_signing_key("signer")
        kms.rotate_key("before")
    backup = tmp_path / "backup.db"
    shutil.copyfile(store, backup)  # the custodian is closed: the copy is a whole store
    old_root = root_key_from(backup, OLD)
    assert old_root is not None
    assert readable_rows(backup, old_root) == [("before", 1), ("before", 2), ("signer", 1)]  # the attack works...
    assert readable_rows(store, old_root) == [("before", 1), ("before", 2), ("signer", 1)]  # ...before the rekey
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        assert kms.rekey(OLD, passphrase=NEW) == []
        kms.establish_aes_key("after")
        token = kms.encrypt_data_aes("after", "created after the rekey")
    assert readable_rows(store, old_root) == []  # not the new key's row, nor any re-sealed one
    assert root_key_from(store, OLD) is None
    new_root = root_key_from(store, NEW)
    assert new_root is not None
    assert new_root != old_root  # the root key itself was rotated
    assert readable_rows(store, new_root) == [("after", 1), ("before", 1), ("before", 2), ("signer", 1)]
    with KeyCustodian.open(store, passphrase=NEW) as kms:
        assert kms.decrypt_data_aes("after", token) == "created after the rekey"
        assert kms.audit_log.verify()
    with KeyCustodian.open(backup, passphrase=OLD) as kms:  # as the docs say: an old backup stays readable
        assert "before" in kms
        assert "after" not in kms


def test_rekey_re_seals_every_row_and_mac_and_keeps_every_key(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        kms.establish_aes_key("a")
        kms.rotate_key("a")
        kms.invalidate_key("a", version=1, reason="old")
        kms.generate_rsa_pair("r")
        kms.generate_signing_key("s", algorithm="ml-dsa-65")
        token = kms.encrypt_data_aes("a", "kept")
        signature = kms.sign("s", "signed")
        public = kms.export_public_key("s")
    before = {name: rows(store, f"SELECT * FROM {name}") for name in ("keys", "versions", "usage")}
    meta_before = meta_of(store)
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        kms.rekey(OLD, passphrase=NEW)
    after = {name: rows(store, f"SELECT * FROM {name}") for name in ("keys", "versions", "usage")}
    meta_after = meta_of(store)
    assert len(after["versions"]) == len(before["versions"]) == 3
    for old_row, new_row in zip(before["versions"], after["versions"], strict=True):
        assert old_row[:3] == new_row[:3]
        assert old_row[3] != new_row[3]  # re-sealed
    for name in ("keys", "usage"):  # usage: each AES-GCM version's reservation (kmslib.usage), MACed too
        assert len(before[name]) == len(after[name]) > 0
        for old_row, new_row in zip(before[name], after[name], strict=True):
            assert old_row[:-1] == new_row[:-1]
            assert old_row[-1] != new_row[-1]  # a new MAC
    for name in ("unseal", "root", "manifest", "audit_manifest"):
        assert meta_before[name] != meta_after[name], name
    assert meta_before["store_id"] == meta_after["store_id"]
    with pytest.raises(UnsealError):
        KeyCustodian.open(store, passphrase=OLD)
    with KeyCustodian.open(store, passphrase=NEW) as kms:
        assert kms.decrypt_data_aes("a", token) == "kept"
        kmslib.verify_signature(public, "signed", signature)  # raises if it does not verify
        kmslib.verify_signature(public, "signed after", kms.sign("s", "signed after"))  # the same signing key
        assert kms.key_info("a").revoked_versions == (1,)
        assert kms.audit_log.verify()


def test_the_old_unseal_rows_written_back_are_refused_with_the_old_and_the_new_secret(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        kms.establish_aes_key("k")
    old_rows = {name: meta_of(store)[name] for name in ("unseal", "root")}
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        kms.rekey(OLD, passphrase=NEW)
    new_rows = {name: meta_of(store)[name] for name in ("unseal", "root")}
    db = sqlite3.connect(store, isolation_level=None)
    db.executemany("UPDATE meta SET value = ? WHERE name = ?", [(v, k) for k, v in old_rows.items()])
    db.close()
    with pytest.raises(StoreError, match="manifest"):  # the old root key does not authenticate the current file
        KeyCustodian.open(store, passphrase=OLD)
    with pytest.raises(UnsealError, match="passphrase is wrong"):
        KeyCustodian.open(store, passphrase=NEW)
    db = sqlite3.connect(store, isolation_level=None)
    db.executemany("UPDATE meta SET value = ? WHERE name = ?", [(v, k) for k, v in new_rows.items()])
    db.close()
    with KeyCustodian.open(store, passphrase=NEW) as kms:  # the current rows put back: it opens again
        assert "k" in kms


def test_unseal_rows_that_seal_the_current_root_key_under_another_secret_are_refused(store: Path) -> None:
    # What an old kmslib's rekey left behind (the same root key under the old secret), or an attacker who once
    # held the root key: the manifest covers the unseal rows, so the rows alone cannot be swapped.
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        kms.establish_aes_key("k")
        kms.rekey(OLD, passphrase=NEW)
    meta = meta_of(store)
    root_key = root_key_from(store, NEW)
    assert root_key is not None
    parameters, unseal_key, _ = _new_unseal(OLD, None, None)
    swapped = {"unseal": json.dumps(parameters), "root": _seal_root(unseal_key, root_key, meta["store_id"], parameters)}
    db = sqlite3.connect(store, isolation_level=None)
    db.executemany("UPDATE meta SET value = ? WHERE name = ?", [(v, k) for k, v in swapped.items()])
    db.close()
    assert root_key_from(store, OLD) == root_key  # the swapped rows do unseal the current root key
    with pytest.raises(StoreError, match="unseal rows"):
        KeyCustodian.open(store, passphrase=OLD)
    with pytest.raises(UnsealError):
        KeyCustodian.open(store, passphrase=NEW)


class _FailingWrites:
    """A connection whose ``nth`` re-sealing UPDATE raises ``error`` inside the transaction."""

    def __init__(self, connection: sqlite3.Connection, nth: int, error: BaseException) -> None:
        self._connection = connection
        self._left = nth
        self._error = error

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("UPDATE versions"):
            self._left -= 1
            if self._left == 0:
                raise self._error
        return self._connection.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def _fail_while_resealing(kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    seal = _Barrier.seal

    def failing(self: _Barrier, aad: bytes, secret: bytes | bytearray) -> bytes:
        calls["n"] += 1
        if calls["n"] == 3:
            raise StoreError("simulated failure while re-sealing")
        return seal(self, aad, secret)

    monkeypatch.setattr(_Barrier, "seal", failing)


def _disk_full_inside_the_transaction(kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = _FailingWrites(kms._store._db, 3, sqlite3.OperationalError("database or disk is full"))  # type: ignore[union-attr,arg-type]
    monkeypatch.setattr(kms._store, "_db", failing)


def _out_of_memory_inside_the_transaction(kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = _FailingWrites(kms._store._db, 3, MemoryError())  # type: ignore[union-attr,arg-type]
    monkeypatch.setattr(kms._store, "_db", failing)


@pytest.mark.parametrize(
    ("fail", "error"),
    [
        (_fail_while_resealing, StoreError),
        (_disk_full_inside_the_transaction, StoreError),
        (_out_of_memory_inside_the_transaction, MemoryError),
    ],
)
def test_a_rekey_that_fails_midway_changes_nothing_and_the_custodian_stays_usable(
    store: Path, monkeypatch: pytest.MonkeyPatch, fail: Any, error: type[BaseException]
) -> None:
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        for n in range(4):
            kms.establish_aes_key(f"k{n}")
        token = kms.encrypt_data_aes("k0", "kept")
    before = rows(store, "SELECT * FROM versions ORDER BY key_id")
    kms = KeyCustodian.open(store, passphrase=OLD)
    with monkeypatch.context() as patched:
        fail(kms, patched)
        with pytest.raises(error) as caught:
            kms.rekey(OLD, passphrase=NEW)
    if error is StoreError:
        assert leaks(caught.value, [OLD.encode(), NEW.encode()]) == []
    assert kms.audit_log[-1].operation == "rekey"
    assert kms.audit_log[-1].outcome == ("StoreError" if error is StoreError else "error:MemoryError")
    kms.establish_aes_key("later")  # written under the root key the file still has
    kms.close()
    assert rows(store, "SELECT * FROM versions WHERE key_id != 'later' ORDER BY key_id") == before
    with pytest.raises(UnsealError):
        KeyCustodian.open(store, passphrase=NEW)
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        assert sorted(k.key_id for k in kms.list_keys()) == ["k0", "k1", "k2", "k3", "later"]
        assert kms.decrypt_data_aes("k0", token) == "kept"
        assert kms.audit_log.verify()
        kms.rekey(OLD, passphrase=NEW)  # and a rekey that is not interrupted goes through
    with KeyCustodian.open(store, passphrase=NEW) as kms:
        assert kms.decrypt_data_aes("k0", token) == "kept"


def test_rekey_refuses_a_file_changed_on_disk_since_it_was_opened(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        kms.establish_aes_key("a")
        kms.establish_aes_key("b")
    kms = KeyCustodian.open(store, passphrase=OLD)
    db = kms._store._db  # type: ignore[union-attr]
    assert db is not None
    a, b = (db.execute("SELECT sealed FROM versions WHERE key_id = ?", (k,)).fetchone()[0] for k in "ab")
    db.execute("UPDATE versions SET sealed = ? WHERE key_id = 'a'", (b,))  # an attacker writing to the file
    with pytest.raises(StoreError, match="key 'a'"):
        kms.rekey(OLD, passphrase=NEW)  # re-sealing would launder the swapped row under the new root key
    db.execute("UPDATE versions SET sealed = ? WHERE key_id = 'a'", (a,))
    kms.close()
    KeyCustodian.open(store, passphrase=OLD).close()


def test_a_store_written_before_the_binding_opens_and_is_bound_by_its_first_write(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        kms.establish_aes_key("k")
    meta = meta_of(store)
    manifest = json.loads(meta["audit_manifest"])
    assert "unseal" in manifest
    root_key = root_key_from(store, OLD)
    assert root_key is not None
    barrier = _Barrier(root_key, meta["store_id"])
    unbound = _audit_manifest(barrier, manifest["audit"], manifest["head"], manifest["keys_digest"], None)
    assert "unseal" not in json.loads(unbound)
    db = sqlite3.connect(store, isolation_level=None)
    db.execute("UPDATE meta SET value = ? WHERE name = 'audit_manifest'", (unbound,))  # as an older kmslib wrote it
    db.close()
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        assert "k" in kms
    assert "unseal" in json.loads(meta_of(store)["audit_manifest"])  # the open's audit record bound it
    stripped = json.loads(meta_of(store)["audit_manifest"])
    del stripped["unseal"]  # without the root key, the binding cannot be removed
    db = sqlite3.connect(store, isolation_level=None)
    db.execute("UPDATE meta SET value = ? WHERE name = 'audit_manifest'", (json.dumps(stripped),))
    db.close()
    with pytest.raises(StoreError, match="audit manifest"):
        KeyCustodian.open(store, passphrase=OLD)


def test_an_unexpected_error_inside_rekey_leaves_no_secret_in_its_frames(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(passphrase: bytes, parameters: object) -> bytes:
        raise MemoryError("the key derivation ran out of memory")

    with KeyCustodian.open(store, passphrase=OLD) as kms:
        monkeypatch.setattr(kmslib.unsealing, "derive_unseal_key", out_of_memory)
        with pytest.raises(MemoryError) as caught:
            kms.rekey(OLD, passphrase=NEW)
        assert leaks(caught.value, [OLD.encode(), NEW.encode()]) == []
        monkeypatch.undo()
        kms.establish_aes_key("still usable")
    with KeyCustodian.open(store, passphrase=OLD) as kms:
        assert "still usable" in kms
