"""Key states and rotation policies in the sealed store (contract sections 9 and 13)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import kmslib
from kmslib import KeyCustodian, KeyStateError, StoreError, classroom_clock, inspect_token

PASSPHRASE = "states in the store"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OLD = Path(__file__).with_name("vectors") / "stores"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    return path


def fill(kms: KeyCustodian) -> None:
    """A key in every state, version states, a policy and a pending activation."""
    kms.establish_aes_key("active")
    kms.establish_aes_key("later", activate_at=START + timedelta(days=1))
    kms.establish_aes_key("suspended")
    kms.suspend_key("suspended", reason="investigating")
    kms.generate_signing_key("deactivated")
    kms.deactivate_key("deactivated", reason="end of its cryptoperiod")
    kms.establish_aes_key("compromised")
    kms.mark_compromised("compromised", reason="found on a paste site")
    kms.establish_aes_key("revoked")
    kms.invalidate_key("revoked")
    kms.establish_aes_key("versions")
    kms.rotate_key("versions")
    kms.rotate_key("versions")
    kms.deactivate_key("versions", version=1)
    kms.mark_compromised("versions", version=2, reason="a backup of v2 was lost")
    kms.set_rotation_policy("active", rotate_every=timedelta(days=90), deactivate_after=timedelta(days=7), max_uses=5)


def test_states_policies_and_times_survive_a_restart(store: Path) -> None:
    clock = classroom_clock(START)
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=clock) as kms:
        fill(kms)
        before = kms.list_keys()
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=clock) as kms:
        assert kms.list_keys() == before
        assert [info.state for info in before] == [
            "active",
            "pre-activation",
            "suspended",
            "deactivated",
            "compromised",
            "revoked",
            "active",
        ]
        with pytest.raises(KeyStateError, match="suspended"):
            kms.encrypt_data_aes("suspended", "x")
        with pytest.raises(KeyStateError, match="deactivated"):
            kms.sign("deactivated", "x")
        assert kms.key_info("versions").version_states == ((1, "deactivated"), (2, "compromised"), (3, "active"))


def test_usage_under_max_uses_goes_on_after_a_restart(store: Path) -> None:
    clock = classroom_clock(START)
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=clock) as kms:
        kms.generate_signing_key("s")
        kms.set_rotation_policy("s", max_uses=3)
        kms.sign("s", "one")
        kms.sign("s", "two")
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=clock) as kms:
        # The count resumes from the reservation saved before it (kmslib.usage): never fewer than were made.
        kms.sign("s", "three")
        with pytest.raises(KeyStateError, match="max_uses"):
            kms.sign("s", "four")


def test_a_rotation_by_policy_is_saved_and_the_clock_goes_on(store: Path) -> None:
    clock = classroom_clock(START)
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=clock) as kms:
        kms.establish_aes_key("k")
        kms.set_rotation_policy("k", rotate_every=timedelta(days=30), deactivate_after=timedelta(days=1))
    clock.advance(timedelta(days=31))
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=clock) as kms:
        assert inspect_token(kms.encrypt_data_aes("k", "x")).version == 2
    clock.advance(timedelta(days=2))
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=clock) as kms:
        assert kms.key_info("k").version_states == ((1, "deactivated"), (2, "active"))
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=clock) as kms:
        ops = [e.operation for e in kms.audit_log]
        assert ops.count("rotate_key_by_policy") == 1
        assert ops.count("deactivate_key_by_policy") == 1
        assert kms.audit_log.verify()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE keys SET lifecycle = replace(lifecycle, '\"suspended\"', '\"active\"') WHERE key_id = 'suspended'",
        "UPDATE keys SET state = 'active' WHERE key_id = 'suspended'",
        "UPDATE keys SET lifecycle = NULL WHERE key_id = 'versions'",
        "UPDATE keys SET lifecycle = replace(lifecycle, '\"compromised\"', '\"active\"') WHERE key_id = 'versions'",
        "UPDATE keys SET lifecycle = replace(lifecycle, '\"max_uses\": 5', '\"max_uses\": 50') WHERE key_id = 'active'",
    ],
)
def test_an_edited_state_or_policy_refuses_the_whole_store(store: Path, sql: str) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=classroom_clock(START)) as kms:
        fill(kms)
    db = sqlite3.connect(store, isolation_level=None)
    assert db.execute(sql).rowcount == 1
    db.close()
    with pytest.raises(StoreError, match="fails its check"):
        KeyCustodian.open(store, passphrase=PASSPHRASE)


def test_rekey_keeps_the_states(store: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=classroom_clock(START)) as kms:
        fill(kms)
        before = kms.list_keys()
        kms.rekey(PASSPHRASE, passphrase="a new passphrase")
    with KeyCustodian.open(store, passphrase="a new passphrase", clock=classroom_clock(START)) as kms:
        assert kms.list_keys() == before


def test_a_store_written_before_key_states_opens_and_gains_them(tmp_path: Path) -> None:
    made = json.loads((OLD / "before_states.json").read_text())
    path = tmp_path / "old.kmsdb"
    shutil.copyfile(OLD / "before_states.kmsdb", path)
    with sqlite3.connect(path) as db:
        assert "lifecycle" not in {row[1] for row in db.execute("PRAGMA table_info(keys)")}
    db.close()
    with KeyCustodian.open(path, passphrase=made["passphrase"]) as kms:
        infos = {info.key_id: info for info in kms.list_keys()}
        assert {k: i.state for k, i in infos.items()} == {
            "gcm": "active",
            "cbc": "active",
            "sig": "active",
            "gone": "revoked",
        }
        gcm = infos["gcm"]
        assert gcm.version_states == ((1, "revoked"), (2, "active"), (3, "active"))
        assert gcm.version_created == (gcm.created_at,) * 3  # unknown before states: the key's creation time
        assert gcm.policy is None
        assert kms.decrypt_data_aes("gcm", made["gcm_v2"]) == "version two"
        assert kms.decrypt_data_aes("cbc", made["cbc"]) == "cbc text"
        kms.verify("sig", made["signed"], made["signature"])
        kms.suspend_key("cbc", reason="the first state change of an old store")
    with KeyCustodian.open(path, passphrase=made["passphrase"]) as kms:
        assert kms.key_info("cbc").state == "suspended"
        assert kms.key_info("gcm").version_states == ((1, "revoked"), (2, "active"), (3, "active"))
        assert kms.audit_log.verify()


# ---------------------------------------------------------------- kill -9 of a real process

WORKER = Path(__file__).with_name("states_worker.py")
KMSLIB_ROOT = str(Path(kmslib.__file__).resolve().parent.parent)
#: Where each reported step leaves the key (``resumed`` is the state ``active`` again).
STEP_STATE = {"active": "active", "suspended": "suspended", "resumed": "active"}


def run_and_kill(path: Path, lines_before_kill: int) -> list[str]:
    """Start the worker, let it report ``lines_before_kill`` changes, SIGKILL it; return every line it printed."""
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(path), PASSPHRASE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": KMSLIB_ROOT},  # the kmslib under test
    )
    assert process.stdout is not None
    for _ in range(lines_before_kill):
        assert process.stdout.readline(), process.stderr.read() if process.stderr else ""
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return out.splitlines()


@pytest.mark.parametrize("lines_before_kill", [2, 5, 9])
def test_a_state_change_whose_call_returned_survives_kill_9(store: Path, lines_before_kill: int) -> None:
    printed = run_and_kill(store, lines_before_kill)
    last: dict[str, str] = {}
    for line in printed:
        step, key_id = line.split()
        last[key_id] = step
    with KeyCustodian.open(store, passphrase=PASSPHRASE) as kms:
        entries = {(e.operation, e.key_id, e.outcome) for e in kms.audit_log}
        for key_id, step in last.items():
            state = kms.key_info(key_id).state
            steps = [*STEP_STATE, "deactivated", "compromised", "revoked"]
            reached = [STEP_STATE.get(s, s) for s in steps[steps.index(step) : steps.index(step) + 2]]
            assert state in reached, (key_id, step, state)  # the reported change, or the next one (not yet printed)
            operation = {"suspended": "suspend_key", "resumed": "resume_key", "deactivated": "deactivate_key"}
            if step in operation:
                assert (operation[step], key_id, "ok") in entries
        assert kms.audit_log.verify()
