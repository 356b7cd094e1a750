"""The sealed store (contract section 9): a custodian that survives restarts, behind a barrier.

Real files throughout; the crash and locking tests with real processes are in test_store_faults.py.
"""

from __future__ import annotations

import builtins
import json
import marshal
import os
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import kmslib
from helpers import leaks
from kmslib import (
    ArgumentTypeError,
    InvalidInputError,
    KeyCustodian,
    KeyRevokedError,
    StoreError,
    UnsealError,
    verify_signature,
)
from kmslib.store import AUDIT_BATCH, AUDIT_LIMIT

PASSPHRASE = "correct horse battery staple"
AES_BYTES = bytes(range(100, 132))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "keys.db"
    assert kmslib.init_store(path, passphrase=PASSPHRASE) == []
    return path


def files_of(path: Path) -> dict[str, bytes]:
    """Every file of the store (the database, and its WAL or journal if any), by name."""
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir()) if p.name.startswith(path.name)}


def rsa_pem() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem, der


def populate(kms: KeyCustodian) -> dict[str, str]:
    """One key of every kind and lifecycle state; returns tokens and signatures to check after reopening."""
    kms.establish_aes_key("gcm")
    kms.establish_aes_key("cbc", mode="cbc")
    kms.import_aes_key("imported", AES_BYTES)
    kms.generate_rsa_pair("oaep")
    kms.generate_rsa_pair("pkcs1", padding="pkcs1v15")
    for algorithm in ("ed25519", "ecdsa-p256-sha256", "rsa-pss-sha256", "ml-dsa-65"):
        kms.generate_signing_key(algorithm, algorithm=algorithm)
    private, public = kms.generate_diffie_hellman_params_and_key(group="x25519")
    peer_private, peer_public = kms.generate_diffie_hellman_params_and_key(group="x25519")
    kms.derive_shared_key("agreed", private, peer_public)
    kms.derive_shared_key("agreed-peer", peer_private, public)
    made = {
        "gcm-v1": kms.encrypt_data_aes("gcm", "version one", associated_data="ctx"),
        "cbc": kms.encrypt_data_aes("cbc", "cbc text"),
        "imported": kms.encrypt_data_aes("imported", "byok"),
        "oaep": kms.encrypt_data_rsa("oaep", "rsa text"),
        "pkcs1": kms.encrypt_data_rsa("pkcs1", "old rsa"),
        "agreed": kms.encrypt_data_aes("agreed", "shared"),
    }
    kms.rotate_key("gcm")
    made["gcm-v2"] = kms.encrypt_data_aes("gcm", "version two")
    kms.rotate_key("gcm")
    kms.invalidate_key("gcm", version=2, reason="leaked in a log")
    made["gcm-v3"] = kms.encrypt_data_aes("gcm", "version three")
    kms.establish_aes_key("shredded")
    made["shredded"] = kms.encrypt_data_aes("shredded", "gone")
    kms.invalidate_key("shredded", reason="end of life")
    for algorithm in ("ed25519", "ml-dsa-65"):
        made[f"sig-{algorithm}"] = kms.sign(algorithm, "signed before the restart")
        made[f"pem-{algorithm}"] = kms.export_public_key(algorithm)
    return made


def test_init_store_makes_an_owner_only_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    assert kmslib.init_store(path, passphrase=PASSPHRASE) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.db"]  # no temporary or WAL file left
    before = path.read_bytes()
    with pytest.raises(StoreError, match="already exists"):
        kmslib.init_store(path, passphrase="another")
    with pytest.raises(StoreError, match="already exists"):
        kmslib.init_store(path, shares=3, threshold=2)
    assert path.read_bytes() == before
    other = tmp_path / "not-a-store.txt"
    other.write_text("notes")
    with pytest.raises(StoreError, match="already exists"):
        kmslib.init_store(other, passphrase=PASSPHRASE)
    assert other.read_text() == "notes"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, InvalidInputError, "exactly one"),
        ({"passphrase": PASSPHRASE, "shares": 5, "threshold": 3}, InvalidInputError, "exactly one"),
        ({"passphrase": ""}, InvalidInputError, "empty"),
        ({"passphrase": 1234}, ArgumentTypeError, "passphrase"),
        ({"passphrase": PASSPHRASE, "threshold": 2}, InvalidInputError, "threshold"),
        ({"shares": 5}, ArgumentTypeError, "threshold"),
        ({"shares": 5, "threshold": 6}, InvalidInputError, "threshold <= shares"),
        ({"shares": 5, "threshold": 1}, InvalidInputError, "2 <= threshold"),
        ({"shares": 17, "threshold": 3}, InvalidInputError, "16"),
        ({"shares": "5", "threshold": 3}, ArgumentTypeError, "shares"),
        ({"shares": True, "threshold": 3}, ArgumentTypeError, "shares"),
    ],
)
def test_init_store_refuses_bad_arguments_and_writes_nothing(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        kmslib.init_store(tmp_path / "keys.db", **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_every_kind_of_key_and_state_survives_a_restart(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        made = populate(kms)
        before = kms.list_keys()
        head = kms.audit_log.head
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert kms.list_keys() == before
        assert kms.decrypt_data_aes("gcm", made["gcm-v1"], associated_data="ctx") == "version one"
        assert kms.decrypt_data_aes("gcm", made["gcm-v3"]) == "version three"
        with pytest.raises(KeyRevokedError):
            kms.decrypt_data_aes("gcm", made["gcm-v2"])
        with pytest.raises(KeyRevokedError):
            kms.decrypt_data_aes("shredded", made["shredded"])
        assert kms.decrypt_data_aes("cbc", made["cbc"]) == "cbc text"
        assert kms.decrypt_data_aes("imported", made["imported"]) == "byok"
        assert kms.decrypt_data_rsa("oaep", made["oaep"]) == "rsa text"
        assert kms.decrypt_data_rsa("pkcs1", made["pkcs1"]) == "old rsa"
        assert kms.decrypt_data_aes("agreed-peer", made["agreed"]) == "shared"
        for algorithm in ("ed25519", "ml-dsa-65"):
            assert kms.export_public_key(algorithm) == made[f"pem-{algorithm}"]
            verify_signature(made[f"pem-{algorithm}"], "signed before the restart", made[f"sig-{algorithm}"])
            verify_signature(made[f"pem-{algorithm}"], "after", kms.sign(algorithm, "after"))
        # The log came back with its chain, verifies against the head saved before the restart, and grows on.
        assert kms.audit_log.verify(head=head)
        operations = [entry.operation for entry in kms.audit_log]
        assert operations[0] == "open"
        assert operations.count("close") == 1
        assert operations.count("open") == 2
        kms.rotate_key("oaep")
        assert kms.key_info("oaep").version == 2


def test_the_seeds_walkthrough_runs_on_a_stored_custodian(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("terminal_123")
        token = kms.encrypt_data_aes("terminal_123", "Confidential Communication")
        kms.generate_rsa_pair("server_rsa")
        rsa_token = kms.encrypt_data_rsa("server_rsa", "Sensitive Data")
        assert kms.invalidate_key("terminal_123") == kmslib.REVOCATION_SUCCESSFUL
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert kms.decrypt_data_rsa("server_rsa", rsa_token) == "Sensitive Data"
        with pytest.raises(KeyRevokedError):
            kms.decrypt_data_aes("terminal_123", token)
        with pytest.raises(kmslib.KeyExistsError):
            kms.establish_aes_key("terminal_123")  # a revoked id is never reused, across restarts too


def test_envelopes_and_data_keys_work_through_a_stored_kek(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("kek")
        envelope = bytes(kms.encrypt_envelope("kek", b"records" * 1000, associated_data=b"table"))
        wrapped = kms.generate_data_key_without_plaintext("kek")
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert kms.decrypt_envelope("kek", envelope, associated_data=b"table") == b"records" * 1000
        kms.rotate_key("kek")
        rewrapped = bytes(kms.rewrap_envelope("kek", envelope, associated_data=b"table"))
        wrapped = kms.rewrap("kek", wrapped)
        kms.invalidate_key("kek", version=1)
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert kms.decrypt_envelope("kek", rewrapped, associated_data=b"table") == b"records" * 1000
        with pytest.raises(KeyRevokedError):
            kms.decrypt_envelope("kek", envelope, associated_data=b"table")
        assert len(kms.decrypt_data_aes("kek", wrapped, encoding=None)) == 32  # the data key, rewrapped


def test_an_injected_clock_stamps_the_stored_keys_and_log(store: Path) -> None:
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=lambda: moment) as kms:
        kms.establish_aes_key("k")
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert kms.key_info("k").created_at == moment
        assert [e.time for e in kms.audit_log][:3] == [moment] * 3  # open, establish, close


# ---------------------------------------------------------------------- unsealing


@pytest.mark.parametrize("wrong", ["Correct horse battery staple", "correct horse battery staple ", b"x", "ü"])
def test_a_wrong_passphrase_is_an_unseal_error_and_changes_nothing(store: Path, wrong: str | bytes) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
    before = files_of(store)
    with pytest.raises(UnsealError, match="passphrase is wrong") as caught:
        KeyCustodian.open(store, passphrase=wrong)
    assert files_of(store) == before
    secret = wrong.encode() if isinstance(wrong, str) else wrong
    assert leaks(caught.value, [secret, PASSPHRASE.encode()]) == []
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:  # the right one still opens it
        assert "k" in kms


def test_text_passphrases_are_normalised_so_one_passphrase_typed_two_ways_opens(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase="caf\u00e9")  # é as one code point
    KeyCustodian.open(path, passphrase="cafe\u0301").close()  # e + combining accent: the same text (NFC)


def test_shares_open_the_store_with_any_threshold_of_them(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    assert len(shares) == 5
    assert len(set(shares)) == 5
    assert all(len(share.split()) == 33 for share in shares)  # SLIP-0039: 256-bit secret
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("k")
    for chosen in ([shares[4], shares[0], shares[2]], shares[1:4], shares, [s.upper() for s in shares[2:]]):
        with KeyCustodian.open(path, shares=chosen) as kms:
            assert "k" in kms
    messy = ["  " + shares[0].replace(" ", "\n  ") + "\n", shares[1], shares[3]]
    KeyCustodian.open(path, shares=messy).close()  # pasted with line breaks and spaces


def test_too_few_wrong_or_mistyped_shares_are_unseal_errors_and_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    other = kmslib.init_store(tmp_path / "other.db", shares=5, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("k")
    before = files_of(path)
    mistyped = shares[1].split()
    mistyped[7] = "academic" if mistyped[7] != "academic" else "acid"
    cases = [
        (shares[:2], "2 of 3 shares given; 1 more needed"),
        ([shares[0], shares[0], shares[1]], "2 of 3 shares given"),
        ([], "no shares"),
        ([shares[0], " ".join(mistyped), shares[2]], "share 2 is not a valid share"),
        ([shares[0], shares[1], other[2]], "share 3 belongs to another set"),
        (other[:3], "do not unseal this store"),
        ([shares[0], shares[1], "hello world"], "share 3 is not a valid share"),
    ]
    for given, match in cases:
        with pytest.raises(UnsealError, match=match) as caught:
            KeyCustodian.open(path, shares=given)
        assert leaks(caught.value, [s.encode() for s in shares + other]) == []
        assert str(caught.value).count(" ") < 30  # the message repeats no share
        # no two consecutive words of any share (one word alone may be the message's own: "valid" is a SLIP-39 word)
        pairs = {" ".join(s.split()[i : i + 2]) for s in shares + other for i in range(len(s.split()) - 1)}
        assert not any(pair in str(caught.value) for pair in pairs)
    assert files_of(path) == before


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shares": ["a b c"]}, "a passphrase"),
        ({}, "a passphrase"),
        ({"passphrase": PASSPHRASE, "shares": ["a"]}, "a passphrase"),
    ],
)
def test_the_wrong_kind_of_secret_is_an_unseal_error(store: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(UnsealError, match=match):
        KeyCustodian.open(store, **kwargs)  # type: ignore[arg-type]


def test_a_passphrase_for_a_store_of_shares_is_an_unseal_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, shares=3, threshold=2)
    with pytest.raises(UnsealError, match="with shares"):
        KeyCustodian.open(path, passphrase=PASSPHRASE)
    with pytest.raises(ArgumentTypeError, match="list of share"):
        KeyCustodian.open(path, shares="one share as a string")  # type: ignore[arg-type]


def test_without_the_store_extra_shares_are_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "shamir_mnemonic", None)  # as if it were not installed
    with pytest.raises(StoreError, match=r"shamir-mnemonic.*kmslib\[store\]"):
        kmslib.init_store(tmp_path / "keys.db", shares=3, threshold=2)
    assert list(tmp_path.iterdir()) == []
    kmslib.init_store(tmp_path / "keys.db", passphrase=PASSPHRASE)  # a passphrase needs no extra


# ---------------------------------------------------------------------- rekey


def test_rekey_replaces_the_passphrase_and_keeps_every_key(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        made = populate(kms)
        before = kms.list_keys()
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        with pytest.raises(UnsealError, match="current unseal secret is wrong") as caught:
            kms.rekey("not it", passphrase="new passphrase")
        assert leaks(caught.value, [b"not it", b"new passphrase"]) == []
        assert kms.rekey(PASSPHRASE, passphrase="new passphrase") == []
        assert kms.audit_log[-1].operation == "rekey"
        assert kms.audit_log[-1].outcome == "ok"
        assert kms.decrypt_data_aes("gcm", made["gcm-v3"]) == "version three"  # the open custodian works on
    with pytest.raises(UnsealError):
        KeyCustodian.open(store, passphrase=PASSPHRASE)
    with KeyCustodian.open(store, passphrase="new passphrase") as kms:  # every key, re-sealed (test_store_rekey.py)
        assert kms.list_keys() == before
        assert kms.decrypt_data_aes("gcm", made["gcm-v1"], associated_data="ctx") == "version one"
        assert kms.decrypt_data_rsa("oaep", made["oaep"]) == "rsa text"
        assert kms.decrypt_data_aes("agreed", made["agreed"]) == "shared"
        assert kms.audit_log.verify()


def test_rekey_with_new_shares_when_a_holder_leaves(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("k")
        with pytest.raises(UnsealError):
            kms.rekey(shares[:2], shares=4, threshold=3)  # too few current shares: nothing changes
        new = kms.rekey(shares[2:], shares=4, threshold=3)
    assert len(new) == 4
    assert not set(new) & set(shares)
    with pytest.raises(UnsealError):
        KeyCustodian.open(path, shares=shares[:3])  # the leaver's share, and the old set, no longer open it
    with KeyCustodian.open(path, shares=new[1:]) as kms:
        assert "k" in kms
        kms.rekey(new[:3], passphrase=PASSPHRASE)  # and back to a passphrase
    KeyCustodian.open(path, passphrase=PASSPHRASE).close()


def test_an_in_memory_custodian_has_nothing_to_rekey() -> None:
    with pytest.raises(InvalidInputError, match="in-memory"):
        KeyCustodian().rekey("x", passphrase="y")


# ---------------------------------------------------------------------- close


def test_close_drops_the_keys_and_every_later_operation_is_a_store_error(store: Path) -> None:
    kms = KeyCustodian.open(store, passphrase=PASSPHRASE)
    kms.establish_aes_key("k")
    kms.generate_rsa_pair("r")
    token = kms.encrypt_data_aes("k", "x")
    materials = [m for key in kms._keys.values() for m in key.versions.values()]
    kms.close()
    kms.close()  # twice: nothing more
    assert all(m.sealed(lambda secret: b"sealed") is None for m in materials)  # destroyed
    for operation in (
        lambda: kms.encrypt_data_aes("k", "x"),
        lambda: kms.decrypt_data_aes("k", token),
        lambda: kms.establish_aes_key("new"),
        lambda: kms.rotate_key("k"),
        lambda: kms.key_info("k"),
        kms.list_keys,
        lambda: kms.invalidate_key("k"),
        lambda: kms.rekey(PASSPHRASE, passphrase="other"),
    ):
        with pytest.raises(StoreError, match="closed"):
            operation()
    assert kms.audit_log.verify()  # the log stays readable
    assert kms.audit_log[-1].operation in {"rekey", "invalidate_key"}


def test_an_in_memory_custodian_closes_too() -> None:
    with KeyCustodian() as kms:
        kms.establish_aes_key("k")
    with pytest.raises(StoreError, match="closed"):
        kms.encrypt_data_aes("k", "x")


# ---------------------------------------------------------------------- what an attacker sees


def test_no_key_bytes_appear_in_the_clear_in_the_file_or_its_wal(store: Path) -> None:
    pem, der = rsa_pem()
    secrets = [AES_BYTES, der, PASSPHRASE.encode()]
    kms = KeyCustodian.open(store, passphrase=PASSPHRASE)
    kms.import_aes_key("byok", AES_BYTES)
    kms.import_rsa_key("byok-rsa", pem)
    kms.rotate_key("byok")
    while_open = files_of(store)
    assert any(name.endswith("-wal") for name in while_open)  # WAL mode: the log file exists while open
    kms.close()
    after = files_of(store)
    for files in (while_open, after):
        for name, content in files.items():
            for secret in secrets:
                assert secret not in content, name
                assert secret[:16] not in content, name
    # Ids, states and times stay readable: what an attacker sees.
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT key_id, state, algorithm FROM keys ORDER BY key_id").fetchall()
        sealed = db.execute("SELECT key_id, version, length(sealed) FROM versions ORDER BY key_id, version").fetchall()
    db.close()
    assert rows == [("byok", "active", "aes-256-gcm"), ("byok-rsa", "active", "rsa-oaep-sha256")]
    assert sealed[0] == ("byok", 1, 12 + 32 + 16)  # nonce, sealed key, tag


def test_a_revoked_versions_sealed_row_is_deleted(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
        kms.rotate_key("k")
        kms.invalidate_key("k", version=1)
        kms.establish_aes_key("gone")
        kms.invalidate_key("gone")
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT key_id, version FROM versions").fetchall() == [("k", 2)]
    db.close()


# ---------------------------------------------------------------------- tampering


def tamper(path: Path, sql: str, *parameters: object) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(sql, parameters)
    db.close()


@pytest.fixture
def filled(store: Path) -> Path:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("a")
        kms.establish_aes_key("b")
        kms.generate_signing_key("s")
        kms.rotate_key("a")
        kms.invalidate_key("a", version=1, reason="old")
        for _ in range(3):
            kms.encrypt_data_aes("b", "x")
    return store


def test_a_bit_flipped_anywhere_in_any_sealed_row_refuses_the_whole_store(filled: Path) -> None:
    with sqlite3.connect(filled) as db:
        rows = db.execute("SELECT key_id, version, sealed FROM versions").fetchall()
    db.close()
    for key_id, version, blob in rows:
        for position in sorted({0, 11, 12, len(blob) // 2, len(blob) - 17, len(blob) - 1}):
            flipped = bytearray(blob)
            flipped[position] ^= 0x01
            tamper(
                filled,
                "UPDATE versions SET sealed = ? WHERE key_id = ? AND version = ?",
                bytes(flipped),
                key_id,
                version,
            )
            with pytest.raises(StoreError, match=rf"version {version} of key '{key_id}'"):
                KeyCustodian.open(filled, passphrase=PASSPHRASE)
            tamper(filled, "UPDATE versions SET sealed = ? WHERE key_id = ? AND version = ?", blob, key_id, version)
    KeyCustodian.open(filled, passphrase=PASSPHRASE).close()  # restored: it opens again


def test_sealed_material_swapped_between_keys_or_versions_is_refused(filled: Path) -> None:
    with sqlite3.connect(filled) as db:
        a2 = db.execute("SELECT sealed FROM versions WHERE key_id = 'a' AND version = 2").fetchone()[0]
        b1 = db.execute("SELECT sealed FROM versions WHERE key_id = 'b' AND version = 1").fetchone()[0]
    db.close()
    tamper(filled, "UPDATE versions SET sealed = ? WHERE key_id = 'a' AND version = 2", b1)
    tamper(filled, "UPDATE versions SET sealed = ? WHERE key_id = 'b' AND version = 1", a2)
    with pytest.raises(StoreError, match="moved from another row"):
        KeyCustodian.open(filled, passphrase=PASSPHRASE)


def test_a_sealed_row_moved_to_another_version_number_is_refused(filled: Path) -> None:
    tamper(filled, "UPDATE versions SET version = 1 WHERE key_id = 'a' AND version = 2")
    tamper(filled, "UPDATE keys SET newest = 1 WHERE key_id = 'a'")
    with pytest.raises(StoreError):
        KeyCustodian.open(filled, passphrase=PASSPHRASE)


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        ("UPDATE keys SET state = 'active', revoked_versions = '[]' WHERE key_id = 'a'", "row of key 'a'"),
        ("UPDATE keys SET reason = NULL WHERE key_id = 'a'", "row of key 'a'"),
        ("UPDATE keys SET key_id = 'z' WHERE key_id = 'b'", "row of key 'z'"),
        ("DELETE FROM keys WHERE key_id = 'b'", "differ from its manifest"),
        ("DELETE FROM versions WHERE key_id = 'b'", "version 1 of key 'b'"),
        ("INSERT INTO versions SELECT key_id, 9, algorithm, sealed FROM versions WHERE key_id = 'b'", "no live key"),
        ("DELETE FROM audit WHERE first = (SELECT max(first) FROM audit)", "audit log"),
        ("DELETE FROM audit WHERE first = 2", "audit log"),
        ("UPDATE audit SET records = zeroblob(length(records)) WHERE first = 1", "audit log"),
        ("UPDATE audit SET records = (SELECT records FROM audit WHERE first = 0) WHERE first = 1", "audit log"),
        ("UPDATE audit SET first = 1000 WHERE first = (SELECT max(first) FROM audit)", "audit log"),
        ("UPDATE meta SET value = replace(value, '\"keys\"', '\"keys \"') WHERE name = 'manifest'", "manifest"),
        ("UPDATE meta SET value = replace(value, '\"audit\"', '\"audit \"') WHERE name = 'audit_manifest'", "manifest"),
        ("UPDATE meta SET value = '2' WHERE name = 'format'", "format 2, newer"),
        ("DELETE FROM meta WHERE name = 'format'", "not a kmslib store"),
        ("DROP TABLE audit", "not a kmslib store"),
    ],
)
def test_tampered_metadata_refuses_the_whole_store(filled: Path, sql: str, match: str) -> None:
    tamper(filled, sql)
    with pytest.raises(StoreError, match=match) as caught:
        KeyCustodian.open(filled, passphrase=PASSPHRASE)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_a_store_rolled_back_row_by_row_is_refused(filled: Path, tmp_path: Path) -> None:
    with sqlite3.connect(filled) as db:
        old_row = db.execute("SELECT * FROM keys WHERE key_id = 'a'").fetchone()
    db.close()
    with KeyCustodian.open(filled, passphrase=PASSPHRASE) as kms:
        kms.invalidate_key("a", reason="compromised")
    tamper(filled, f"INSERT OR REPLACE INTO keys VALUES ({', '.join('?' * len(old_row))})", *old_row)
    with pytest.raises(StoreError, match="differ from its manifest"):  # an authentic old row, out of place
        KeyCustodian.open(filled, passphrase=PASSPHRASE)


def test_the_keys_rolled_back_with_their_manifest_but_not_the_log_are_refused(filled: Path) -> None:
    with sqlite3.connect(filled) as db:
        old_keys = db.execute("SELECT * FROM keys").fetchall()
        old_versions = db.execute("SELECT * FROM versions").fetchall()
        old_manifest = db.execute("SELECT value FROM meta WHERE name = 'manifest'").fetchone()[0]
    db.close()
    with KeyCustodian.open(filled, passphrase=PASSPHRASE) as kms:
        kms.invalidate_key("b", reason="compromised")  # the attacker wants this undone
    db = sqlite3.connect(filled, isolation_level=None)
    db.execute("DELETE FROM keys")
    db.execute("DELETE FROM versions")
    db.executemany(f"INSERT INTO keys VALUES ({', '.join('?' * len(old_keys[0]))})", old_keys)
    db.executemany("INSERT INTO versions VALUES (?, ?, ?, ?)", old_versions)
    db.execute("UPDATE meta SET value = ? WHERE name = 'manifest'", (old_manifest,))
    db.close()
    with pytest.raises(StoreError, match="partly rolled back"):  # every key row authentic, and their manifest too
        KeyCustodian.open(filled, passphrase=PASSPHRASE)


def test_files_that_are_not_stores_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store"):
        KeyCustodian.open(tmp_path / "missing.db", passphrase=PASSPHRASE)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StoreError, match="not a kmslib store"):
        KeyCustodian.open(text, passphrase=PASSPHRASE)
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(StoreError, match="not a kmslib store"):
        KeyCustodian.open(other, passphrase=PASSPHRASE)
    with pytest.raises(ArgumentTypeError):
        KeyCustodian.open(1234, passphrase=PASSPHRASE)  # type: ignore[arg-type]


def test_a_truncated_database_file_is_a_store_error_at_every_page(filled: Path) -> None:
    content = filled.read_bytes()
    assert not Path(f"{filled}-wal").exists()
    page = 4096
    assert len(content) % page == 0
    for length in [*range(0, len(content), page), 50, 100, page + 7, len(content) - 1]:
        filled.write_bytes(content[:length])
        with pytest.raises(StoreError):
            KeyCustodian.open(filled, passphrase=PASSPHRASE)
    filled.write_bytes(content)
    KeyCustodian.open(filled, passphrase=PASSPHRASE).close()


def test_store_errors_hold_no_secret_in_their_traceback(filled: Path) -> None:
    tamper(filled, "UPDATE versions SET sealed = zeroblob(60) WHERE key_id = 'b'")
    with pytest.raises(StoreError) as caught:
        KeyCustodian.open(filled, passphrase=PASSPHRASE)
    assert leaks(caught.value, [PASSPHRASE.encode()]) == []
    for frame_locals in _frames(caught.value):
        for value in frame_locals.values():
            assert type(value).__name__ not in {"_Barrier", "SealedStore", "AESKeyVersion", "bytearray"}


def _frames(exc: BaseException) -> Iterator[dict[str, object]]:
    tb = exc.__traceback__
    while tb is not None:
        yield dict(tb.tb_frame.f_locals)
        tb = tb.tb_next


# ---------------------------------------------------------------------- the audit log in the store


def stored_operations(path: Path) -> list[str]:
    """The audit operations in the file, read while a custodian holds it: through a copy of the database and WAL."""
    copy = path.with_name("copy.db")
    for name, content in files_of(path).items():
        path.with_name(name.replace(path.name, "copy.db")).write_bytes(content)
    db = sqlite3.connect(copy)
    batches = [marshal.loads(body) for (body,) in db.execute("SELECT records FROM audit ORDER BY first")]
    operations = [record[1] for batch in batches for record in batch]
    db.close()
    for p in path.parent.glob("copy.db*"):
        p.unlink()
    return operations


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_key_changes_save_the_log_before_they_return(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms._store._stop.set()  # no writer thread: only what the calls themselves write
        kms.establish_aes_key("k")
        assert stored_operations(store) == ["open", "establish_aes_key"]
        kms.encrypt_data_aes("k", "x")
        kms.rotate_key("k")  # writes everything before it, and itself
        assert stored_operations(store)[-2:] == ["encrypt_data_aes", "rotate_key"]
    assert stored_operations(store)[-1] == "close"


def test_data_operations_are_saved_by_the_writer_thread_in_batches(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
        for _ in range(AUDIT_BATCH):
            kms.encrypt_data_aes("k", "x")
        assert eventually(lambda: stored_operations(store).count("encrypt_data_aes") == AUDIT_BATCH)
        kms.encrypt_data_aes("k", "one more")  # less than a batch: saved within the interval
        assert eventually(lambda: stored_operations(store).count("encrypt_data_aes") == AUDIT_BATCH + 1)


def test_never_more_than_the_limit_is_unsaved_even_if_the_writer_stalls(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
        writer = kms._store
        writer._stop.set()  # stall the writer thread
        assert writer._wake is not None
        writer._wake.set()
        assert writer._writer is not None
        writer._writer.join()
        before = len(stored_operations(store))
        for _ in range(AUDIT_LIMIT - 1):
            kms.encrypt_data_aes("k", "x")
        assert len(stored_operations(store)) == before  # the writer saved nothing
        kms.encrypt_data_aes("k", "x")  # the limit: this call writes them itself
        assert len(stored_operations(store)) == before + AUDIT_LIMIT


def test_the_store_is_checked_by_the_same_audit_verification(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.generate_signing_key("auditor")
        kms.establish_aes_key("k")
        checkpoint = kms.sign_audit_checkpoint("auditor")
        public = kms.export_public_key("auditor")
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        exported = kms.audit_log.to_jsonl()
    assert kmslib.AuditLog.verify_jsonl(exported, checkpoint=checkpoint, public_key=public)
    lines = exported.splitlines()
    record = json.loads(lines[2])
    record["outcome"] = "ok" if record["outcome"] != "ok" else "KeyRevokedError"
    lines[2] = json.dumps(record)
    assert not kmslib.AuditLog.verify_jsonl("\n".join(lines), checkpoint=checkpoint, public_key=public)


def test_two_custodians_cannot_hold_one_store_in_one_process(store: Path) -> None:
    first = KeyCustodian.open(store, passphrase=PASSPHRASE)
    with pytest.raises(StoreError, match="open elsewhere"):
        KeyCustodian.open(store, passphrase=PASSPHRASE)
    first.establish_aes_key("k")  # the holder is unharmed
    first.close()
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as second:
        assert "k" in second


def test_a_second_open_in_one_process_is_refused_before_any_file_is_opened(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Closing any descriptor of the file would drop the holder's SQLite lock (a POSIX fcntl lock).
    holder = KeyCustodian.open(store, passphrase=PASSPHRASE)
    lock = store.with_name("keys.db.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600

    def no_file(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file was opened")

    with monkeypatch.context() as patched:
        for owner, name in [(os, "open"), (Path, "open"), (sqlite3, "connect"), (builtins, "open")]:
            patched.setattr(owner, name, no_file)
        with pytest.raises(StoreError, match="open elsewhere: another custodian in this process"):
            KeyCustodian.open(store, passphrase=PASSPHRASE)
        with pytest.raises(StoreError, match="another custodian in this process"):
            KeyCustodian.open(tmp_link(store), passphrase=PASSPHRASE)  # by another name: the same file
    holder.establish_aes_key("k")
    holder.close()
    with KeyCustodian.open(tmp_link(store), passphrase=PASSPHRASE) as kms:
        assert "k" in kms
    assert lock.exists()  # left in place: a deleted lock file would let two processes lock two files


def tmp_link(store: Path) -> Path:
    link = store.with_name("link-to-keys.db")
    if not link.is_symlink():
        link.symlink_to(store)
    return link


def test_threads_sharing_a_stored_custodian_leave_a_store_that_reopens_whole(store: Path) -> None:
    import threading

    kms = KeyCustodian.open(store, passphrase=PASSPHRASE)
    kms.establish_aes_key("shared")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                kms.establish_aes_key(f"t{n}-{i}")
                kms.rotate_key(f"t{n}-{i}")
                for _ in range(50):
                    kms.decrypt_data_aes("shared", kms.encrypt_data_aes("shared", "x"))
                if i % 2:
                    kms.invalidate_key(f"t{n}-{i}", version=1)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    before, count, head = kms.list_keys(), len(kms.audit_log), kms.audit_log.head
    kms.close()
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as again:
        assert again.list_keys() == before
        assert len(again.audit_log) == count + 2  # close, open
        assert again.audit_log.verify(head=head)


@pytest.mark.parametrize("row", ["unseal", "root", "store_id"])
def test_an_edited_unseal_row_fails_to_unseal_as_a_wrong_secret_does(filled: Path, row: str) -> None:
    db = sqlite3.connect(filled, isolation_level=None)
    (value,) = db.execute("SELECT value FROM meta WHERE name = ?", (row,)).fetchone()
    # another salt of the same form: parameters kmslib reads (others are StoreErrors: test_store_untrusted.py)
    first = "ff" if value.startswith("00") else "00"  # a byte that differs (a nonce starts with 00 in 1 of 256 stores)
    edited = json.dumps({**json.loads(value), "salt": "5a" * 16}) if row == "unseal" else (first + value[2:])
    db.execute("UPDATE meta SET value = ? WHERE name = ?", (edited, row))
    db.close()
    with pytest.raises(UnsealError, match="passphrase is wrong"):
        KeyCustodian.open(filled, passphrase=PASSPHRASE)


def test_encryption_and_decryption_read_nothing_from_the_store(store: Path) -> None:
    class NoDisk:
        def execute(self, *args: object) -> None:
            raise AssertionError("the hot path queried the database")

    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
        kms.generate_rsa_pair("r")
        writer = kms._store
        writer._stop.set()  # the writer thread saves on its own schedule: stopped, so only the calls are seen
        assert writer._wake is not None
        writer._wake.set()
        assert writer._writer is not None
        writer._writer.join()
        real, kms._store._db = kms._store._db, NoDisk()  # type: ignore[union-attr,assignment]
        try:
            for _ in range(AUDIT_BATCH - 10):  # below a batch: the writer thread has nothing to write yet
                assert kms.decrypt_data_aes("k", kms.encrypt_data_aes("k", "x")) == "x"
            assert kms.decrypt_data_rsa("r", kms.encrypt_data_rsa("r", "y")) == "y"
        finally:
            kms._store._db = real  # type: ignore[union-attr]


def stored_unseal(path: Path) -> dict[str, object]:
    db = sqlite3.connect(path)
    (text,) = db.execute("SELECT value FROM meta WHERE name = 'unseal'").fetchone()
    db.close()
    return dict(json.loads(text))


def test_a_passphrase_store_keeps_rfc_9106s_argon2id_parameters_and_never_the_unseal_key(store: Path) -> None:
    from kmslib import unsealing

    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
    parameters = stored_unseal(store)
    # RFC 9106, section 4, the second recommended option: t=3, p=4, m=2^16 KiB, a 128-bit salt.
    assert {k: parameters[k] for k in ("kdf", "iterations", "lanes", "memory_cost")} == {
        "kdf": "argon2id",
        "iterations": 3,
        "lanes": 4,
        "memory_cost": 2**16,
    }
    assert len(bytes.fromhex(str(parameters["salt"]))) == 16
    unseal_key = unsealing.derive_unseal_key(PASSPHRASE.encode(), parameters)
    for name, content in files_of(store).items():
        assert unseal_key not in content, name
        assert unseal_key.hex().encode() not in content, name


def test_a_share_store_never_writes_the_unseal_key_the_shares_give(tmp_path: Path) -> None:
    from kmslib import unsealing

    path = tmp_path / "keys.db"
    shares = kmslib.init_store(path, shares=3, threshold=2)
    with KeyCustodian.open(path, shares=shares[:2]) as kms:
        kms.establish_aes_key("k")
    assert stored_unseal(path) == {"method": "shares", "shares": 3, "threshold": 2}
    unseal_key = unsealing.combine_shares(shares[1:])
    for name, content in files_of(path).items():
        assert unseal_key not in content, name
        assert unseal_key.hex().encode() not in content, name


def test_without_argon2id_a_store_falls_back_to_scrypt_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kmslib import unsealing

    monkeypatch.setattr(unsealing, "_argon2id", lambda: None)  # as on OpenSSL before 3.2
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    parameters = stored_unseal(path)
    assert {k: parameters[k] for k in ("kdf", "n", "r", "p")} == {"kdf": "scrypt", "n": 2**17, "r": 8, "p": 1}
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
    with pytest.raises(UnsealError):
        KeyCustodian.open(path, passphrase="wrong")
