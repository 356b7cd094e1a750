"""Suspension, deactivation and compromise are as strict as revocation under threads (contract sections 6 and 13).

No encryption, wrap or signature succeeds under a version once the call that suspended, deactivated or
compromised it has returned: the first tests pause an operation right after its cryptography, change the
state, and let it go on; the last races real threads.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from test_threads import pause_after, run_paused, run_together

from kmslib import KeyCustodian, KeyStateError
from kmslib.aes import AESKeyVersion
from kmslib.signing import SigningKeyVersion

CHANGES: dict[str, Callable[[KeyCustodian, str], object]] = {
    "suspended": lambda kms, key_id: kms.suspend_key(key_id),
    "deactivated": lambda kms, key_id: kms.deactivate_key(key_id),
    "compromised": lambda kms, key_id: kms.mark_compromised(key_id, reason="leaked"),
}


@pytest.fixture(autouse=True)
def _frequent_thread_switches() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.parametrize("state", CHANGES)
@pytest.mark.parametrize("operation", ["encrypt_data_aes", "generate_data_key", "encrypt_envelope", "rewrap"])
def test_an_encryption_or_wrap_in_flight_fails_once_its_key_changes_state(
    monkeypatch: pytest.MonkeyPatch, state: str, operation: str
) -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "x")
    calls: dict[str, Callable[[], object]] = {
        "encrypt_data_aes": lambda: kms.encrypt_data_aes("k", "x"),
        "generate_data_key": lambda: kms.generate_data_key("k"),
        "encrypt_envelope": lambda: kms.encrypt_envelope("k", b"data"),
        "rewrap": lambda: kms.rewrap("k", token),
    }
    done, go = pause_after(monkeypatch, AESKeyVersion, "encrypt")
    result = run_paused(calls[operation], done, go, lambda: CHANGES[state](kms, "k"))
    assert isinstance(result, KeyStateError), result
    assert state in str(result)
    assert kms.audit_log[-1].outcome == "KeyStateError"


@pytest.mark.parametrize("state", CHANGES)
def test_a_signature_in_flight_fails_once_its_key_changes_state(monkeypatch: pytest.MonkeyPatch, state: str) -> None:
    kms = KeyCustodian()
    kms.generate_signing_key("s")
    done, go = threading.Event(), threading.Event()
    original = SigningKeyVersion.sign

    def paused(self: SigningKeyVersion, message: bytes, *, deterministic: bool = False) -> bytes | None:
        result = original(self, message, deterministic=deterministic)
        done.set()
        assert go.wait(10)
        return result

    monkeypatch.setattr(SigningKeyVersion, "sign", paused)
    result = run_paused(lambda: kms.sign("s", "x"), done, go, lambda: CHANGES[state](kms, "s"))
    assert isinstance(result, KeyStateError), result


def test_a_decryption_in_flight_fails_once_its_key_is_suspended(monkeypatch: pytest.MonkeyPatch) -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "x")
    done, go = pause_after(monkeypatch, AESKeyVersion, "decrypt")
    result = run_paused(lambda: kms.decrypt_data_aes("k", token), done, go, lambda: kms.suspend_key("k"))
    assert isinstance(result, KeyStateError), result


@pytest.mark.parametrize("state", ["suspended", "deactivated"])
def test_no_encryption_succeeds_that_began_after_the_change_returned(state: str) -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    changed = threading.Event()
    start = threading.Barrier(4)
    failures: list[str] = []
    counts = {"ok": 0, "refused": 0}

    def encrypter() -> None:
        start.wait()
        while True:
            after = changed.is_set()  # read before the call: a success now would break the contract
            try:
                kms.encrypt_data_aes("k", "race")
            except KeyStateError:
                counts["refused"] += 1
                if after:
                    return
                continue
            except Exception as exc:  # noqa: BLE001 - any other error fails the test below
                failures.append(f"{type(exc).__name__}: {exc}")
                return
            counts["ok"] += 1
            if after:
                failures.append("an encryption that began after the change returned succeeded")
                return

    def changer() -> None:
        start.wait()
        while counts["ok"] < 50:
            pass
        CHANGES[state](kms, "k")
        changed.set()

    run_together(encrypter, encrypter, encrypter, changer)
    assert failures == []
    assert counts["ok"] >= 50
    assert counts["refused"] >= 3
    assert kms.key_info("k").state == state
