"""Attacks on key states and cryptoperiods (contract section 13): each test is one attempt to break them."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from test_threads import run_paused

import kmslib
from helpers import leaks
from kmslib import (
    InvalidInputError,
    KeyCustodian,
    KeyStateError,
    StoreError,
    classroom_clock,
    custodian,
    envelope,
    inspect_token,
)
from kmslib.aes import AESKeyVersion
from kmslib.clock import ClassroomClock
from kmslib.rsa import RSAKeyVersion
from kmslib.signing import SigningKeyVersion

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KEY = bytes(range(100, 132))


@pytest.fixture
def clock() -> ClassroomClock:  # type: ignore[override]
    return classroom_clock(START)


@pytest.fixture
def kms(clock: ClassroomClock) -> KeyCustodian:
    return KeyCustodian(clock=clock)


# ---------------------------------------------------------------- policies with bad values


@pytest.mark.parametrize(
    "policy",
    [
        {"rotate_every": timedelta.max},
        {"deactivate_after": timedelta.max},
        {"rotate_every": timedelta(days=999_999)},
        {"deactivate_after": timedelta(days=999_999)},
    ],
)
def test_a_period_longer_than_a_century_is_refused_and_changes_nothing(
    kms: KeyCustodian, policy: dict[str, timedelta]
) -> None:
    kms.establish_aes_key("k")
    kms.rotate_key("k")
    before = kms.key_info("k")
    with pytest.raises(InvalidInputError, match="876000 hours"):
        kms.set_rotation_policy("k", **policy)
    assert kms.key_info("k") == before
    kms.rotate_key("k")  # the key still works
    assert inspect_token(kms.encrypt_data_aes("k", "x")).version == 3


@pytest.mark.parametrize("period", [timedelta(microseconds=1), timedelta(seconds=1), timedelta(minutes=59)])
def test_rotate_every_shorter_than_an_hour_is_refused(kms: KeyCustodian, period: timedelta) -> None:
    kms.establish_aes_key("k")
    with pytest.raises(InvalidInputError, match="one hour"):
        kms.set_rotation_policy("k", rotate_every=period)
    assert kms.key_info("k").policy is None


def test_the_longest_and_shortest_periods_allowed_work() -> None:
    clock = classroom_clock(datetime(9950, 1, 1, tzinfo=UTC))  # a century from the end of the calendar
    kms = KeyCustodian(clock=clock)
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=timedelta(hours=876_000), deactivate_after=timedelta(hours=876_000))
    kms.rotate_key("k")
    clock.advance(timedelta(days=10))
    assert inspect_token(kms.encrypt_data_aes("k", "x")).version == 2
    assert kms.key_info("k").version_states == ((1, "active"), (2, "active"))
    kms.set_rotation_policy("k", rotate_every=timedelta(hours=1))
    clock.advance(timedelta(hours=1))
    assert inspect_token(kms.encrypt_data_aes("k", "x")).version == 3


# ---------------------------------------------------------------- every path follows the changes due


def test_export_public_key_activates_a_key_whose_time_has_come(kms: KeyCustodian, clock: ClassroomClock) -> None:
    kms.generate_signing_key("s", activate_at=clock() + DAY)
    with pytest.raises(KeyStateError, match="pre-activation"):
        kms.export_public_key("s")
    clock.advance(2 * DAY)
    assert kms.export_public_key("s").startswith("-----BEGIN PUBLIC KEY-----")
    assert kms.audit_log[-2].operation == "activate_key"


def test_export_public_key_after_the_cryptoperiod_gives_the_new_versions_key(
    kms: KeyCustodian, clock: ClassroomClock
) -> None:
    kms.generate_signing_key("s")
    kms.set_rotation_policy("s", rotate_every=30 * DAY)
    first = kms.export_public_key("s")
    clock.advance(31 * DAY)
    exported = kms.export_public_key("s")  # the first use after the period: it rotates first
    assert kms.key_info("s").version == 2
    assert exported != first
    signature = kms.sign("s", "m")
    assert inspect_token(signature).version == 2
    assert kms.export_public_key("s") == exported


def test_a_deactivated_rsa_key_exports_no_public_key_to_encrypt_with(
    kms: KeyCustodian, rsa_pems: Callable[[int], str]
) -> None:
    kms.import_rsa_key("r", rsa_pems(0))
    token = kms.encrypt_data_rsa("r", "old")
    kms.generate_signing_key("s")
    kms.deactivate_key("r")
    kms.deactivate_key("s")
    with pytest.raises(KeyStateError, match="deactivated") as caught:
        kms.export_public_key("r")  # its public key is for encrypting: a deactivated key never encrypts
    assert leaks(caught.value, []) == []
    assert kms.decrypt_data_rsa("r", token) == "old"
    assert kms.export_public_key("s").startswith("-----BEGIN PUBLIC KEY-----")  # a signing key's: for verifying


@pytest.mark.parametrize(
    ("change", "state", "version"),
    [
        (lambda kms: kms.suspend_key("k"), "suspended", 2),  # its own catch-up rotated first: the due one
        (lambda kms: kms.deactivate_key("k"), "deactivated", 2),
        (lambda kms: kms.invalidate_key("k"), "revoked", 1),
    ],
)
def test_a_rotation_by_policy_overtaken_by_a_state_change_leaves_key_info_working(
    kms: KeyCustodian,
    clock: ClassroomClock,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[KeyCustodian], object],
    state: str,
    version: int,
) -> None:
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=30 * DAY)
    clock.advance(31 * DAY)
    original = AESKeyVersion.successor

    def changed_meanwhile(self: AESKeyVersion) -> AESKeyVersion:  # another thread's change, while this one rotates
        fresh = original(self)
        monkeypatch.setattr(AESKeyVersion, "successor", original)
        change(kms)
        return fresh

    monkeypatch.setattr(AESKeyVersion, "successor", changed_meanwhile)
    info = kms.key_info("k")  # looking at a key never fails because of a rotation it no longer needs
    assert (info.state, info.version) == (state, version)
    assert [e.operation for e in kms.audit_log].count("rotate_key_by_policy") == version - 1
    assert kms.audit_log[-1].operation != "rotate_key_by_policy"
    assert [i.state for i in kms.list_keys()] == [state]


# ---------------------------------------------------------------- attacks that hold (regression tests)


def test_rewrap_at_max_uses_rotates_when_the_policy_has_rotate_every(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=90 * DAY, max_uses=1)
    token = kms.encrypt_data_aes("k", "the secret")  # version 1 has made its one use
    rewrapped = kms.rewrap("k", token)
    assert inspect_token(rewrapped).version == 2
    assert [e.operation for e in kms.audit_log][-2:] == ["rotate_key_by_policy", "rewrap"]
    assert kms.decrypt_data_aes("k", rewrapped) == "the secret"


@pytest.mark.parametrize("state", ["suspended", "deactivated", "compromised"])
def test_no_protecting_path_works_under_a_refusing_state(kms: KeyCustodian, state: str) -> None:
    kms.import_aes_key("k", KEY)
    token = kms.encrypt_data_aes("k", "old secret")
    sealed = kms.encrypt_envelope("k", b"old envelope secret")
    kms.generate_signing_key("s")
    for key_id in ("k", "s"):
        if state == "compromised":
            kms.mark_compromised(key_id, reason="leaked")
        else:
            (kms.suspend_key if state == "suspended" else kms.deactivate_key)(key_id)
    calls = [
        lambda: kms.encrypt_data_aes("k", "new secret"),
        lambda: kms.rewrap("k", token),
        lambda: kms.rewrap_envelope("k", sealed),
        lambda: kms.generate_data_key("k"),
        lambda: kms.generate_data_key_without_plaintext("k"),
        lambda: kms.encrypt_envelope("k", b"new envelope secret"),
        lambda: kms.sign("s", "m"),
        lambda: kms.sign_audit_checkpoint("s"),
        lambda: kms.rotate_key("k"),
    ]
    for call in calls:
        with pytest.raises(KeyStateError, match=state) as caught:
            call()
        assert leaks(caught.value, [KEY, b"old secret", b"old envelope secret"]) == []


def test_a_pre_activation_key_does_nothing_by_any_path(kms: KeyCustodian, clock: ClassroomClock) -> None:
    later = clock() + DAY
    kms.establish_aes_key("p", activate_at=later)
    kms.generate_signing_key("ps", activate_at=later)
    kms.generate_rsa_pair("pr", activate_at=later)
    kms.establish_aes_key("other")
    token = kms.encrypt_data_aes("other", "x").replace("other", "p")
    sealed = kms.encrypt_envelope("other", b"x")
    calls = [
        lambda: kms.encrypt_data_aes("p", "x"),
        lambda: kms.generate_data_key("p"),
        lambda: kms.generate_data_key_without_plaintext("p"),
        lambda: kms.encrypt_envelope("p", b"x"),
        lambda: kms.rewrap("p", token),
        lambda: kms.rewrap_envelope("p", sealed),
        lambda: kms.decrypt_data_aes("p", token, allow_compromised=True),
        lambda: kms.sign("ps", "m"),
        lambda: kms.sign_audit_checkpoint("ps"),
        lambda: kms.encrypt_data_rsa("pr", "m"),
        lambda: kms.export_public_key("pr"),
        lambda: kms.rotate_key("p"),
        lambda: kms.suspend_key("p"),
        lambda: kms.resume_key("p"),
        lambda: kms.deactivate_key("p"),
    ]
    for call in calls:
        with pytest.raises(KeyStateError, match="pre-activation"):
            call()
    assert {info.state for info in kms.list_keys() if info.key_id != "other"} == {"pre-activation"}


def test_allow_compromised_reads_but_never_rewraps_and_is_audited(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "old")
    sealed = kms.encrypt_envelope("k", b"old")
    kms.rotate_key("k")
    kms.mark_compromised("k", version=1, reason="a backup of v1 was lost")
    for call in (lambda: kms.rewrap("k", token), lambda: kms.rewrap_envelope("k", sealed)):
        with pytest.raises(KeyStateError, match="compromised"):
            call()
    assert kms.decrypt_data_aes("k", token, allow_compromised=True) == "old"
    assert [e.operation for e in kms.audit_log][-2:] == ["allow_compromised", "decrypt_data_aes"]
    kms.invalidate_key("k", version=1)
    with pytest.raises(kmslib.KeyRevokedError):
        kms.decrypt_data_aes("k", token, allow_compromised=True)


def test_a_clock_going_back_undoes_no_activation_and_no_rotation() -> None:
    now = [START]
    kms = KeyCustodian(clock=lambda: now[0])
    kms.establish_aes_key("k", activate_at=START + DAY)
    kms.set_rotation_policy("k", rotate_every=30 * DAY)
    now[0] = START + 31 * DAY
    assert inspect_token(kms.encrypt_data_aes("k", "x")).version == 2
    now[0] = START - 365 * DAY
    info = kms.key_info("k")
    assert (info.state, info.version) == ("active", 2)
    assert inspect_token(kms.encrypt_data_aes("k", "x")).version == 2


def test_a_naive_activation_time_or_clock_is_refused() -> None:
    kms = KeyCustodian(clock=lambda: datetime(2026, 1, 1))  # the attack: a naive clock
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        kms.establish_aes_key("k")
    assert "k" not in kms
    kms = KeyCustodian()
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        kms.establish_aes_key("k", activate_at=datetime(2030, 1, 1))  # the attack: a naive time
    assert "k" not in kms


PASSPHRASE = "attacking the states"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    with KeyCustodian.open(path, passphrase=PASSPHRASE, clock=classroom_clock(START)) as kms:
        kms.establish_aes_key("bad")
        kms.establish_aes_key("good")
        kms.mark_compromised("bad", reason="leaked")
    return path


def _rows(path: Path) -> dict[str, tuple[object, ...]]:
    db = sqlite3.connect(path)
    rows = {row[0]: tuple(row) for row in db.execute("SELECT * FROM keys")}
    db.close()
    return rows


@pytest.mark.parametrize(
    "sql",
    [
        # the compromised key's lifecycle (and MAC) swapped with the good key's
        "UPDATE keys SET (lifecycle, mac) = (SELECT lifecycle, mac FROM keys WHERE key_id = 'good') "
        "WHERE key_id = 'bad'",
        "UPDATE keys SET lifecycle = (SELECT lifecycle FROM keys WHERE key_id = 'good') WHERE key_id = 'bad'",
        "ALTER TABLE keys DROP COLUMN lifecycle",
    ],
)
def test_a_compromise_cannot_be_undone_by_editing_the_lifecycle(store: Path, sql: str) -> None:
    db = sqlite3.connect(store, isolation_level=None)
    db.execute(sql)
    db.close()
    with pytest.raises(StoreError, match=r"fails its check|differ from its manifest"):
        KeyCustodian.open(store, passphrase=PASSPHRASE)


def test_a_compromise_cannot_be_rolled_back_by_replaying_the_old_row(store: Path, tmp_path: Path) -> None:
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=classroom_clock(START)) as kms:
        kms.establish_aes_key("later")
    before = _rows(store)["later"]
    with KeyCustodian.open(store, passphrase=PASSPHRASE, clock=classroom_clock(START)) as kms:
        kms.mark_compromised("later", reason="leaked")
    db = sqlite3.connect(store, isolation_level=None)
    db.execute(f"INSERT OR REPLACE INTO keys VALUES ({', '.join('?' * len(before))})", before)
    db.close()
    assert _rows(store)["later"] == before
    with pytest.raises(StoreError, match="rolled back"):
        KeyCustodian.open(store, passphrase=PASSPHRASE)


# ---------------------------------------------------------------- verification and allow_compromised under races


def _changing_midway(monkeypatch: pytest.MonkeyPatch, target: object, name: str, change: Callable[[], object]) -> None:
    """Make ``target.name`` first ``change()`` the key, then do its work: a change that lands midway."""
    original = getattr(target, name)

    def change_then(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(target, name, original)
        change()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, change_then)


@pytest.mark.parametrize("state", ["suspended", "compromised", "revoked"])
def test_a_verification_in_flight_fails_once_its_key_changes_state(
    kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    kms.generate_signing_key("s")
    signature = kms.sign("s", "m")
    changes: dict[str, Callable[[], object]] = {
        "suspended": lambda: kms.suspend_key("s"),
        "compromised": lambda: kms.mark_compromised("s", reason="leaked"),
        "revoked": lambda: kms.invalidate_key("s"),
    }
    _changing_midway(monkeypatch, SigningKeyVersion, "verifies", changes[state])
    with pytest.raises((KeyStateError, kmslib.KeyRevokedError), match=state) as caught:
        kms.verify("s", "m", signature)  # the change returned before this verification did
    assert leaks(caught.value, []) == []
    assert kms.key_info("s").state == state
    assert kms.audit_log[-1].operation == "verify"
    assert kms.audit_log[-1].outcome != "ok"


@pytest.mark.parametrize("operation", ["decrypt_data_aes", "decrypt_envelope"])
def test_a_read_under_allow_compromised_is_audited_even_if_the_key_is_revoked_meanwhile(
    kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    kms.establish_aes_key("k")
    token, sealed = kms.encrypt_data_aes("k", "old"), kms.encrypt_envelope("k", b"old")
    kms.mark_compromised("k", reason="leaked")
    # The revocation lands after the read's last check of the key: the read happened, under a compromised key.
    if operation == "decrypt_data_aes":
        _changing_midway(monkeypatch, custodian, "_decode", lambda: kms.invalidate_key("k"))
        assert kms.decrypt_data_aes("k", token, allow_compromised=True) == "old"
    else:
        _changing_midway(monkeypatch, envelope, "open_data", lambda: kms.invalidate_key("k"))
        assert kms.decrypt_envelope("k", sealed, allow_compromised=True) == b"old"
    assert kms.key_info("k").state == "revoked"  # the revocation did land midway
    entries = [(e.operation, e.key_id) for e in kms.audit_log]
    assert entries[-3:] == [("invalidate_key", "k"), ("allow_compromised", "k"), (operation, "k")]


def test_a_compromised_newest_version_encrypts_again_only_after_a_rotation(
    kms: KeyCustodian, clock: ClassroomClock
) -> None:
    kms.establish_aes_key("k")
    kms.set_rotation_policy("k", rotate_every=30 * DAY)
    kms.mark_compromised("k", version=1, reason="its backup was lost")
    clock.advance(29 * DAY)
    with pytest.raises(KeyStateError, match="compromised"):
        kms.encrypt_data_aes("k", "x")
    clock.advance(2 * DAY)  # the policy's rotation: a fresh version, the compromised one stays refused
    assert inspect_token(kms.encrypt_data_aes("k", "x")).version == 2
    assert kms.key_info("k").version_states == ((1, "compromised"), (2, "active"))


@pytest.mark.parametrize("change", ["suspended", "deactivated", "compromised", "version compromised"])
@pytest.mark.parametrize("operation", ["rewrap_envelope", "encrypt_data_rsa", "sign_audit_checkpoint", "rewrap rsa"])
def test_more_protecting_paths_in_flight_fail_once_the_change_returned(
    monkeypatch: pytest.MonkeyPatch, rsa_pems: Callable[[int], str], operation: str, change: str
) -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    kms.import_rsa_key("r", rsa_pems(0))
    kms.generate_signing_key("s")
    sealed, rsa_token = kms.encrypt_envelope("k", b"x"), kms.encrypt_data_rsa("r", "x")
    key_id, cls, method = {
        "rewrap_envelope": ("k", AESKeyVersion, "encrypt"),
        "encrypt_data_rsa": ("r", RSAKeyVersion, "encrypt"),
        "sign_audit_checkpoint": ("s", SigningKeyVersion, "sign"),
        "rewrap rsa": ("r", RSAKeyVersion, "encrypt"),
    }[operation]
    calls: dict[str, Callable[[], object]] = {
        "rewrap_envelope": lambda: kms.rewrap_envelope("k", sealed),
        "encrypt_data_rsa": lambda: kms.encrypt_data_rsa("r", "x"),
        "sign_audit_checkpoint": lambda: kms.sign_audit_checkpoint("s"),
        "rewrap rsa": lambda: kms.rewrap("r", rsa_token),
    }
    changes: dict[str, Callable[[], object]] = {
        "suspended": lambda: kms.suspend_key(key_id),
        "deactivated": lambda: kms.deactivate_key(key_id),
        "compromised": lambda: kms.mark_compromised(key_id, reason="leaked"),
        "version compromised": lambda: kms.mark_compromised(key_id, version=1, reason="leaked"),
    }
    done, go = threading.Event(), threading.Event()
    original = getattr(cls, method)

    def paused(self: object, *args: object, **kwargs: object) -> object:
        result = original(self, *args, **kwargs)
        done.set()
        assert go.wait(10)
        return result

    monkeypatch.setattr(cls, method, paused)
    result = run_paused(calls[operation], done, go, changes[change])
    assert isinstance(result, KeyStateError), result
    assert change.rsplit(maxsplit=1)[-1] in str(result)
    assert kms.audit_log[-1].outcome == "KeyStateError"


# ---------------------------------------------------------------- clocks past the end of the calendar

WEST = timezone(timedelta(hours=-1))


def test_a_classroom_clock_refuses_to_leave_the_calendar() -> None:
    clock = classroom_clock(START)
    with pytest.raises(InvalidInputError, match="calendar") as caught:
        clock.advance(timedelta.max)
    assert caught.value.__context__ is None
    assert clock() == START  # unchanged
    for start in (datetime.max.replace(tzinfo=WEST), datetime.min.replace(tzinfo=timezone(timedelta(hours=1)))):
        with pytest.raises(InvalidInputError, match="calendar"):
            classroom_clock(start)


def test_a_custodian_clock_outside_the_calendar_in_utc_is_an_invalid_input_error() -> None:
    kms = KeyCustodian(clock=lambda: datetime.max.replace(tzinfo=WEST))
    with pytest.raises(InvalidInputError, match="calendar"):
        kms.establish_aes_key("k")
    assert "k" not in kms


# ---------------------------------------------------------------- kill -9 between a state change and its record

KILLED_BETWEEN = """
import os, signal, sys
from kmslib import KeyCustodian
kms = KeyCustodian.open(sys.argv[1], passphrase=sys.argv[2])
kms.establish_aes_key("k")
kms.audit_log.flush = lambda: os.kill(os.getpid(), signal.SIGKILL)  # dies right after the state change's transaction
kms.mark_compromised("k", reason="found on a paste site")
"""


def test_a_kill_between_a_state_change_and_its_record_keeps_the_change_as_the_readme_says(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    kmslib.init_store(path, passphrase=PASSPHRASE)
    root = str(Path(kmslib.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", KILLED_BETWEEN, str(path), PASSPHRASE],
        env={**os.environ, "PYTHONPATH": root},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with KeyCustodian.open(path, passphrase=PASSPHRASE) as kms:
        info = kms.key_info("k")
        assert (info.state, info.reason) == ("compromised", "found on a paste site")  # never un-compromised
        assert "mark_compromised" not in [e.operation for e in kms.audit_log]  # README: the record may be lost
        assert kms.audit_log.verify()
