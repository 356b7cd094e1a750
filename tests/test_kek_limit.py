"""Each AES-GCM key version counts its encryptions and refuses past NIST SP 800-38D's 2^32 (contract sections 7, 13).

The limit is lowered through the documented knob, ``KeyCustodian(gcm_invocation_limit=...)``.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import kmslib
from helpers import leaks
from kmslib import ArgumentTypeError, InvalidInputError, KeyCustodian, StoreError, usage
from kmslib.errors import KeyStateError

KEY = bytes(range(1, 33))
SECRET = b"TOP-SECRET-PLAINTEXT"
PASSPHRASE = "kek limit"
WORKER = Path(__file__).with_name("store_worker.py")


def exposed(exc: BaseException) -> list[str]:
    """What ``exc`` exposes below the public method (whose frame keeps the caller's argument, as everywhere)."""
    passed = re.compile(r"custodian\.py:KeyCustodian\.(encrypt_data_aes|encrypt_envelope) local '(plaintext|data|view)")
    return [found for found in leaks(exc, [KEY, SECRET]) if not passed.match(found)]


def test_key_state_error_is_an_invalid_input_error_in_the_tree() -> None:
    assert KeyStateError.__bases__ == (InvalidInputError,)
    assert kmslib.KeyStateError is KeyStateError
    assert "KeyStateError" in (kmslib.errors.__doc__ or "")


def test_the_default_limit_is_nists_and_the_knob_only_lowers_it() -> None:
    assert usage.GCM_INVOCATION_LIMIT == 2**32
    assert usage.RESERVATION_BLOCK == 2**16  # what the README says a crash can skip
    KeyCustodian(gcm_invocation_limit=1)
    KeyCustodian(gcm_invocation_limit=2**32)
    for bad in (0, -1, 2**32 + 1):
        with pytest.raises(InvalidInputError, match="gcm_invocation_limit"):
            KeyCustodian(gcm_invocation_limit=bad)
    for wrong in ("5", 5.0, True):
        with pytest.raises(ArgumentTypeError, match="gcm_invocation_limit"):
            KeyCustodian(gcm_invocation_limit=wrong)  # type: ignore[arg-type]


def test_at_the_limit_a_version_refuses_audits_it_leaks_nothing_and_still_decrypts() -> None:
    kms = KeyCustodian(gcm_invocation_limit=5)
    kms.import_aes_key("k", KEY)
    tokens = [kms.encrypt_data_aes("k", SECRET) for _ in range(5)]
    with pytest.raises(KeyStateError, match=r"version 1 of key 'k'.*rotate_key") as caught:
        kms.encrypt_data_aes("k", SECRET)
    assert exposed(caught.value) == []
    assert SECRET not in str(caught.value).encode()
    last = list(kms.audit_log)[-1]
    assert (last.operation, last.key_id, last.version, last.outcome) == ("encrypt_data_aes", "k", 1, "KeyStateError")
    for token in tokens:  # decryption is not counted, and the exhausted version still decrypts
        assert kms.decrypt_data_aes("k", token, encoding=None) == SECRET
    kms.rotate_key("k")
    fresh = kms.encrypt_data_aes("k", SECRET)
    assert fresh.startswith("kms:v2:")
    assert kms.decrypt_data_aes("k", fresh, encoding=None) == SECRET
    assert kms.decrypt_data_aes("k", tokens[0], encoding=None) == SECRET


OPERATIONS: dict[str, Callable[[KeyCustodian], object]] = {
    "encrypt_data_aes": lambda kms: kms.encrypt_data_aes("kek", SECRET),
    "generate_data_key": lambda kms: kms.generate_data_key("kek"),
    "generate_data_key_without_plaintext": lambda kms: kms.generate_data_key_without_plaintext("kek"),
    "encrypt_envelope": lambda kms: kms.encrypt_envelope("kek", SECRET),
}


@pytest.mark.parametrize("last", [*OPERATIONS, "rewrap_envelope", "rewrap"])
def test_one_count_per_version_shared_by_every_wrap_and_encryption(last: str) -> None:
    kms = KeyCustodian(gcm_invocation_limit=6)
    kms.import_aes_key("kek", KEY)
    token = kms.encrypt_data_aes("kek", SECRET)  # 1
    sealed = kms.encrypt_envelope("kek", SECRET)  # 2
    kms.generate_data_key("kek")  # 3
    kms.generate_data_key_without_plaintext("kek")  # 4
    token = kms.rewrap("kek", token)  # 5
    sealed = kms.rewrap_envelope("kek", sealed)  # 6
    for _ in range(3):  # decryptions count nothing
        kms.decrypt_data_aes("kek", token)
        kms.decrypt_envelope("kek", sealed)
    if last == "rewrap":
        call: Callable[[KeyCustodian], object] = lambda kms: kms.rewrap("kek", token)  # noqa: E731
    elif last == "rewrap_envelope":
        call = lambda kms: kms.rewrap_envelope("kek", sealed)  # noqa: E731
    else:
        call = OPERATIONS[last]
    with pytest.raises(KeyStateError, match="rotate_key") as caught:
        call(kms)
    assert exposed(caught.value) == []
    assert list(kms.audit_log)[-1].outcome == "KeyStateError"
    assert kms.decrypt_data_aes("kek", token, encoding=None) == SECRET
    assert kms.decrypt_envelope("kek", sealed) == SECRET


def test_an_encryption_that_fails_after_its_count_still_uses_it_up() -> None:
    kms = KeyCustodian(gcm_invocation_limit=2)
    kms.import_aes_key("k", KEY)
    material = kms._keys["k"].versions[1]
    real = material._aead  # type: ignore[union-attr]

    class Failing:
        def encrypt(self, *_: object) -> bytes:
            raise RuntimeError("the cryptography failed")

    material._aead = Failing()  # type: ignore[union-attr,assignment]
    with pytest.raises(RuntimeError):
        kms.encrypt_data_aes("k", SECRET)
    material._aead = real  # type: ignore[union-attr]
    kms.encrypt_data_aes("k", SECRET)
    with pytest.raises(KeyStateError):
        kms.encrypt_data_aes("k", SECRET)


def test_cbc_keys_are_not_counted() -> None:
    kms = KeyCustodian(gcm_invocation_limit=1)
    kms.import_aes_key("cbc", KEY, mode="cbc")
    for _ in range(3):
        kms.encrypt_data_aes("cbc", SECRET)


def test_threads_hammering_one_version_never_pass_the_limit() -> None:
    limit, threads, attempts = 300, 8, 100
    kms = KeyCustodian(gcm_invocation_limit=limit)
    kms.establish_aes_key("k")
    successes: list[int] = []
    refusals: list[int] = []
    others: list[BaseException] = []
    start = threading.Barrier(threads)

    def work() -> None:
        ok = refused = 0
        start.wait()
        for n in range(attempts):
            try:
                if n % 2:
                    kms.encrypt_data_aes("k", b"x")
                else:
                    kms.generate_data_key("k")
                ok += 1
            except KeyStateError:
                refused += 1
            except BaseException as exc:  # noqa: BLE001 - reported below
                others.append(exc)
        successes.append(ok)
        refusals.append(refused)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert others == []
    assert sum(successes) == limit
    assert sum(refusals) == threads * attempts - limit


# ---------------------------------------------------------------- a stored custodian


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    return path


def test_the_knob_is_validated_by_open_too(store: Path) -> None:
    with pytest.raises(InvalidInputError, match="gcm_invocation_limit") as caught:
        KeyCustodian.open(store, passphrase=PASSPHRASE, gcm_invocation_limit=0)
    assert leaks(caught.value, [PASSPHRASE.encode()]) == []
    with KeyCustodian.open(store, passphrase=PASSPHRASE, gcm_invocation_limit=3) as kms:
        kms.establish_aes_key("k")
        for _ in range(3):
            kms.encrypt_data_aes("k", SECRET)
        with pytest.raises(KeyStateError):
            kms.encrypt_data_aes("k", SECRET)


def test_counts_survive_close_and_reopen_starting_at_the_reservation(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usage, "RESERVATION_BLOCK", 4)
    with KeyCustodian.open(store, passphrase=PASSPHRASE, gcm_invocation_limit=10) as kms:
        kms.establish_aes_key("k")
        old = kms.encrypt_data_aes("k", SECRET)
        for _ in range(2):
            kms.encrypt_data_aes("k", SECRET)  # 3 used, 4 reserved
    with KeyCustodian.open(store, passphrase=PASSPHRASE, gcm_invocation_limit=10) as kms:
        for _ in range(6):  # the count restarts at 4, never lower: 6 are left
            kms.encrypt_data_aes("k", SECRET)
        with pytest.raises(KeyStateError):
            kms.encrypt_data_aes("k", SECRET)
        kms.rotate_key("k")
        kms.encrypt_data_aes("k", SECRET)
    with KeyCustodian.open(store, passphrase=PASSPHRASE, gcm_invocation_limit=10) as kms:
        assert kms.decrypt_data_aes("k", old, encoding=None) == SECRET  # the exhausted version still decrypts
        kms.encrypt_data_aes("k", SECRET)  # version 2 has room left


def test_a_store_without_the_usage_table_still_opens_and_gains_it(store: Path) -> None:
    with sqlite3.connect(store) as db:  # a store written before reservations existed
        db.execute("DROP TABLE usage")
    db.close()
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
        token = kms.encrypt_data_aes("k", SECRET)
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert kms.decrypt_data_aes("k", token, encoding=None) == SECRET


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE usage SET reserved = 0",
        "UPDATE usage SET reserved = reserved - 1",
        "DELETE FROM usage",
        "UPDATE usage SET version = 2",
    ],
)
def test_an_edited_or_deleted_reservation_is_refused_as_tampering(store: Path, sql: str) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
        kms.encrypt_data_aes("k", SECRET)
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM usage").fetchone()[0] == 1
        db.execute(sql)
    db.close()
    with pytest.raises(StoreError, match=r"tampered|differ from its manifest"):
        KeyCustodian.open(store, passphrase=PASSPHRASE)


def test_a_reservation_that_cannot_be_saved_refuses_the_encryption(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usage, "RESERVATION_BLOCK", 2)
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")  # saved with its first reservation: 2
        kms.encrypt_data_aes("k", SECRET)
        kms.encrypt_data_aes("k", SECRET)

        def broken(*_: object) -> None:
            raise StoreError("the disk is full")

        with monkeypatch.context() as patch:
            patch.setattr(type(kms._store), "save_usage", broken)
            for _ in range(2):  # the third needs a new reservation; none is counted after a failure
                with pytest.raises(StoreError, match="usage count of version 1") as caught:
                    kms.encrypt_data_aes("k", SECRET)
                assert exposed(caught.value) == []
        assert list(kms.audit_log)[-1].outcome == "StoreError"


def test_after_kill_9_the_count_is_at_least_every_encryption_that_returned(store: Path) -> None:
    rng = random.Random(20261204)
    returned = 0  # encryptions under version 1 whose call returned, over every run
    for _ in range(4):
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), "gcm", str(store), PASSPHRASE, "7"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(WORKER.parent.parent)},  # this checkout's kmslib
        )
        assert worker.stdout is not None
        assert worker.stdout.readline() == "open\n"
        lines = []
        for _ in range(rng.randrange(20, 400)):  # wait for some encryptions to have returned
            lines.append(worker.stdout.readline())
            assert lines[-1].startswith("encrypted"), (lines[-1], worker.stderr.read() if worker.poll() else "")
        worker.send_signal(signal.SIGKILL)
        out, _ = worker.communicate(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        lines += out.splitlines()  # each one an encryption that had returned
        returned += len([line for line in lines if line.startswith("encrypted")])
        # The limit set to that number: had the count restarted below it, one more encryption would pass.
        kms = KeyCustodian.open(store, passphrase=PASSPHRASE, gcm_invocation_limit=returned)
        with kms, pytest.raises(KeyStateError):
            kms.encrypt_data_aes("data", SECRET)
