"""Fault tests with real processes: ``kill -9`` during key changes, a lock held by another process, a cut WAL.

The worker is tests/store_worker.py, started with this interpreter; every kill is a real SIGKILL.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kmslib
from kmslib import KeyCustodian, StoreError
from kmslib.store import AUDIT_BATCH, AUDIT_INTERVAL, AUDIT_LIMIT

PASSPHRASE = "fault tests"
WORKER = Path(__file__).with_name("store_worker.py")
KMSLIB_ROOT = str(Path(kmslib.__file__).resolve().parent.parent)
KILLS = 24


def start(mode: str, path: Path, *extra: str, secret: str = PASSPHRASE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, str(path), secret, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": KMSLIB_ROOT},  # the kmslib under test, not another installed one
    )


def wait_for(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdout is not None
    got = process.stdout.readline().strip()
    assert got == line, (got, process.stderr.read() if process.poll() is not None and process.stderr else "")


def kill(process: subprocess.Popen[str]) -> list[str]:
    """SIGKILL the process; return every line it printed (each one a call that had returned)."""
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return out.splitlines()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    return path


def check_holds(kms: KeyCustodian, reported: list[str]) -> None:
    """Every change the worker reported as returned is in the store, with its audit entry."""
    entries = {(e.operation, e.key_id, e.outcome) for e in kms.audit_log}
    for line in reported:
        what, key_id = line.split()
        info = kms.key_info(key_id)
        if what == "create":
            assert ("establish_aes_key", key_id, "ok") in entries
        elif what == "rotate":
            assert info.version >= 2
            assert ("rotate_key", key_id, "ok") in entries
        elif what == "revoke-version":
            assert 1 in info.revoked_versions
            assert ("invalidate_key", key_id, "ok") in entries
        elif what == "revoke":
            assert info.state == "revoked"
            assert info.reason == "retired"


@pytest.mark.slow
def test_killed_at_random_moments_the_store_keeps_every_change_whose_call_returned(store: Path) -> None:
    rng = random.Random(20261128)
    reported: list[str] = []
    for _ in range(KILLS):
        worker = start("lifecycle", store)
        wait_for(worker, "open")
        time.sleep(rng.uniform(0.0, 0.25))
        lines = kill(worker)
        reported += [line for line in lines if line != "open"]
        with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:  # opens every time
            assert kms.audit_log.verify()
            check_holds(kms, reported)
    assert len([line for line in reported if line.startswith("create")]) >= KILLS  # real work was cut short
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        operations = [entry.operation for entry in kms.audit_log]
    assert operations.count("open") == KILLS * 2 + 1  # each run, and each check
    assert operations.count("close") == KILLS  # only the checks closed (this one not yet): the workers were killed


def test_a_store_held_by_another_process_is_a_store_error_until_the_holder_dies(store: Path) -> None:
    holder = start("hold", store)
    wait_for(holder, "open")
    with pytest.raises(StoreError, match="open elsewhere"):
        KeyCustodian.open(store, passphrase=PASSPHRASE)
    kill(holder)
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert [e.operation for e in kms.audit_log] == ["open", "open"]  # the holder's, then ours


def test_a_crash_loses_at_most_the_limit_of_data_operation_records(store: Path) -> None:
    count = AUDIT_LIMIT * 3
    worker = start("data", store, str(count), "0")
    wait_for(worker, "open")
    wait_for(worker, f"encrypted {count}")
    kill(worker)  # at once: the writer thread may be behind
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kept = [e.operation for e in kms.audit_log].count("encrypt_data_aes")
        assert kms.audit_log.verify()
    assert count - AUDIT_LIMIT <= kept <= count


def test_records_older_than_the_interval_survive_a_crash(store: Path) -> None:
    count = AUDIT_BATCH // 2  # less than a batch: only the interval saves them
    worker = start("data", store, str(count), str(AUDIT_INTERVAL * 2.5))
    wait_for(worker, "open")
    wait_for(worker, f"encrypted {count}")
    wait_for(worker, "waited")
    kill(worker)
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert [e.operation for e in kms.audit_log].count("encrypt_data_aes") == count


def test_a_cut_wal_opens_as_a_whole_earlier_state_or_is_refused_never_half_a_change(
    store: Path, tmp_path: Path
) -> None:
    made = 6
    worker = start("no-checkpoint", store, str(made))
    out, _ = worker.communicate(timeout=60)
    assert worker.returncode == -signal.SIGKILL  # it killed itself, leaving its changes in the WAL only
    assert out.split().count("create") == made
    wal = Path(f"{store}-wal")
    database, journal = store.read_bytes(), wal.read_bytes()
    assert len(journal) > 4096 * made
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:  # the whole WAL: every change is there
        assert [k.key_id for k in kms.list_keys()] == [f"k{n}" for n in range(made)]
    frame = 24 + 4096
    lengths = sorted({0, 16, 32, 33, *range(32, len(journal), frame), *range(32 + 100, len(journal), frame * 3)})
    outcomes = set()
    for length in lengths:
        copy = tmp_path / f"cut{length}.db"
        copy.write_bytes(database)
        Path(f"{copy}-wal").write_bytes(journal[:length])
        try:
            with KeyCustodian.open(copy, passphrase=PASSPHRASE) as kms:
                ids = [k.key_id for k in kms.list_keys()]
                assert kms.audit_log.verify()
        except StoreError:
            outcomes.add("refused")
            continue
        assert ids == [f"k{n}" for n in range(len(ids))]  # a prefix of the changes, each one whole
        outcomes.add(len(ids))
        for p in tmp_path.glob(f"cut{length}.db*"):
            p.unlink()
    assert 0 in outcomes  # a WAL cut before its first commit: the state before the worker ran


def test_a_copy_made_while_the_store_is_closed_is_a_backup_that_opens(store: Path, tmp_path: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
        token = kms.encrypt_data_aes("k", "backed up")
    backup = tmp_path / "backup.db"
    shutil.copyfile(store, backup)
    with KeyCustodian.open(backup, passphrase=PASSPHRASE) as kms:
        assert kms.decrypt_data_aes("k", token) == "backed up"


class _Writes:
    """A stdout that records each write call: a kill can fall between two of them."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_each_reported_change_is_one_write_so_a_kill_never_leaves_half_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # With PYTHONUNBUFFERED set, print("create", "k0") made four writes, and a kill between them once left the
    # line "create" for the checker to read: a failure of the test's reporting, not of the store.
    import store_worker

    from kmslib.course import crash_worker

    out = _Writes()
    monkeypatch.setattr(sys, "stdout", out)
    store_worker.say("revoke-version", "k12")
    crash_worker._say("created key-3")
    assert out.calls == ["revoke-version k12\n", "created key-3\n"]


# ---------------------------------------------------------------------- the lock, against closing other descriptors


def second_process_revokes(store: Path, key_id: str, secret: str = PASSPHRASE) -> str:
    """What a second process that opens the store and revokes ``key_id`` reports: "revoked" or "refused ..."."""
    worker = start("revoke", store, key_id, secret=secret)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    return out.strip()


def _refused_second_open(store: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="open elsewhere"):
        KeyCustodian.open(store, passphrase=PASSPHRASE)


def _read_bytes(store: Path, tmp_path: Path) -> None:
    assert store.read_bytes().startswith(b"SQLite format 3")


def _backup_copy(store: Path, tmp_path: Path) -> None:
    shutil.copy(store, tmp_path / "backup.db")


def _lesson08_checker(store: Path, tmp_path: Path) -> None:
    from kmslib.course import lesson08

    assert not lesson08.found_in_files(store, b"no such bytes in the store")


IN_PROCESS = {
    "a refused second open": _refused_second_open,
    "Path.read_bytes": _read_bytes,
    "shutil.copy for a backup": _backup_copy,
    "lesson 08's checker": _lesson08_checker,
}


@pytest.mark.parametrize("touch", IN_PROCESS.values(), ids=IN_PROCESS.keys())
def test_touching_a_held_store_in_its_own_process_keeps_it_locked_and_a_revocation_elsewhere_is_refused(
    store: Path, tmp_path: Path, touch: object
) -> None:
    holder = KeyCustodian.open(store, passphrase=PASSPHRASE)
    holder.establish_aes_key("k")
    token = holder.encrypt_data_aes("k", "kept")
    touch(store, tmp_path)  # type: ignore[operator]
    assert second_process_revokes(store, "k") == "refused StoreError"
    holder.establish_aes_key("after")  # the holder writes on: nothing of the second process's to overwrite
    holder.close()
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert kms.key_info("k").state == "active"
        assert kms.decrypt_data_aes("k", token) == "kept"
        assert "after" in kms
        assert kms.audit_log.verify()
        operations = [e.operation for e in kms.audit_log]
    assert operations == [
        *["open", "establish_aes_key", "encrypt_data_aes", "establish_aes_key", "close"],  # the holder's, alone
        *["open", "decrypt_data_aes"],
    ]


def test_an_unseal_form_in_a_kernel_that_holds_the_store_leaves_it_locked(tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    from kmslib.widgets import UnsealForm

    path = tmp_path / "team.db"
    shares = kmslib.init_store(path, shares=3, threshold=2)
    secret = "shares=" + json.dumps(shares[1:])
    holder = KeyCustodian.open(path, shares=shares[:2])
    holder.establish_aes_key("k")
    form = UnsealForm(path)
    form.add_share(shares[0])
    form.add_share(shares[2])  # the threshold: the form tries to open the store the kernel holds
    assert form.custodian is None
    assert second_process_revokes(path, "k", secret) == "refused StoreError"
    holder.close()
    assert second_process_revokes(path, "k", secret) == "revoked"


def test_the_lock_is_released_on_close_so_another_process_opens_and_revokes(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
        assert second_process_revokes(store, "k") == "refused StoreError"
    assert second_process_revokes(store, "k") == "revoked"
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        assert kms.key_info("k").state == "revoked"
        assert kms.audit_log.verify()


def test_a_holder_killed_with_sigkill_releases_its_lock(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        kms.establish_aes_key("k")
    holder = start("hold", store)
    wait_for(holder, "open")
    assert second_process_revokes(store, "k") == "refused StoreError"
    with pytest.raises(StoreError, match="open elsewhere"):
        KeyCustodian.open(store, passphrase=PASSPHRASE)
    store.read_bytes()  # this process holds no lock to lose
    kill(holder)
    assert second_process_revokes(store, "k") == "revoked"
