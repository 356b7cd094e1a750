"""A custodian shared between threads: no lost keys, no corrupted state, no use after revocation."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from kmslib import KeyCustodian, KeyRevokedError

ROUNDS = 150


@pytest.fixture(autouse=True)
def _frequent_thread_switches() -> Iterator[None]:
    """Switch threads often, so that operations really interleave."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


def run_together(*bodies: Callable[[], None]) -> None:
    """Run each body in its own thread and wait for all of them (a minute at most)."""
    threads = [threading.Thread(target=body) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)


def test_stress_encrypt_decrypt_rotate_establish_while_one_revokes() -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("stable")
    kms.establish_aes_key("victim")
    revoked = threading.Event()
    start = threading.Barrier(7)
    failures: list[str] = []
    stable_tokens: list[tuple[str, str]] = []
    ops = {"count": 0}
    count_lock = threading.Lock()

    def record(n: int = 1) -> None:
        with count_lock:
            ops["count"] += n

    def worker(body: Callable[[int], None]) -> Callable[[], None]:
        def run() -> None:
            start.wait()
            for i in range(ROUNDS):
                try:
                    body(i)
                except Exception as exc:  # noqa: BLE001 - any unexpected error fails the test below
                    failures.append(f"{type(exc).__name__}: {exc}")

        return run

    def on_stable(i: int) -> None:
        message = f"stable {threading.get_ident()} {i}"
        token = kms.encrypt_data_aes("stable", message)
        assert kms.decrypt_data_aes("stable", token) == message
        stable_tokens.append((token, message))
        record(2)

    def on_victim(i: int) -> None:
        after = revoked.is_set()  # read before the call: a success now would be a use after revocation
        try:
            token = kms.encrypt_data_aes("victim", f"victim {i}")
            record()
            kms.decrypt_data_aes("victim", token)
            record()
        except KeyRevokedError:
            record()
            return
        if after:
            failures.append(f"round {i}: the victim key worked after invalidate_key returned")

    def rotator(i: int) -> None:
        kms.rotate_key("stable")
        record()
        try:
            kms.rotate_key("victim")
        except KeyRevokedError:
            pass
        record()

    def establisher(i: int) -> None:
        kms.establish_aes_key(f"new-{i}", mode="cbc" if i % 2 else "gcm")
        record()

    def revoker(i: int) -> None:
        if i == ROUNDS // 3:
            assert kms.invalidate_key("victim", reason="compromised") == "Key Revocation Successful"
            revoked.set()
            record()

    run_together(*(worker(body) for body in (on_stable, on_stable, on_victim, rotator, rotator, establisher, revoker)))

    assert failures == []
    # No lost keys, no corrupted state.
    assert {f"new-{i}" for i in range(ROUNDS)} <= {info.key_id for info in kms.list_keys()}
    assert len(kms) == ROUNDS + 2
    assert kms.key_info("stable").version == 2 * ROUNDS + 1  # two rotators, no lost update
    assert kms.key_info("victim").state == "revoked"
    assert kms.key_info("victim").reason == "compromised"
    for token, message in stable_tokens:  # every version of the stable key still decrypts
        assert kms.decrypt_data_aes("stable", token) == message
    record(len(stable_tokens))
    # Every operation was audited exactly once, and the chain is whole.
    assert len(kms.audit_log) == ops["count"] + 2
    assert kms.audit_log.verify()
    assert [e.seq for e in kms.audit_log] == list(range(len(kms.audit_log)))


def test_readers_without_the_lock_see_each_revocation_whole() -> None:
    # Encryption and decryption read a key's published state without the lock, while writers
    # rotate and revoke versions. A reader must get the right plaintext or KeyRevokedError: never
    # another error, and never a success on a version whose revocation had returned before it began.
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    tokens = {1: kms.encrypt_data_aes("k", "v1")}
    for version in range(2, 41):
        kms.rotate_key("k")
        tokens[version] = kms.encrypt_data_aes("k", f"v{version}")
    revoked_before: set[int] = set()
    failures: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            for version, token in tokens.items():
                gone = version in revoked_before  # read before the call
                try:
                    plaintext = kms.decrypt_data_aes("k", token)
                except KeyRevokedError:
                    continue
                except Exception as exc:  # noqa: BLE001 - any other error fails the test below
                    failures.append(f"v{version}: {type(exc).__name__}: {exc}")
                    continue
                if plaintext != f"v{version}" or gone:
                    failures.append(f"v{version} decrypted to {plaintext!r} after its revocation: {gone}")

    def writer() -> None:
        try:
            for version in range(1, 40):
                kms.invalidate_key("k", version=version)
                revoked_before.add(version)
                fresh = kms.encrypt_data_aes("k", "fresh")  # the newest version is never revoked here
                if kms.decrypt_data_aes("k", fresh) != "fresh":
                    failures.append("a token of the newest version did not round-trip")
        finally:
            done.set()  # the readers stop even if the writer failed

    run_together(reader, reader, reader, writer)
    assert failures == []
    assert kms.key_info("k").revoked_versions == tuple(range(1, 40))
    assert kms.decrypt_data_aes("k", tokens[40]) == "v40"


# ---------------------------------------------------------------- strict revocation (issue 11, defect 8)
# An operation returns success only if its key version is still live after its cryptography has
# finished (contract section 6). The first tests pause an operation right after its cryptography,
# revoke, and let it go on: it must fail. The last one races real RSA decryptions.


def pause_after(monkeypatch: pytest.MonkeyPatch, cls: type, method: str) -> tuple[threading.Event, threading.Event]:
    """Make ``cls.method`` signal ``done`` after the real work, then wait for ``go``."""
    done, go = threading.Event(), threading.Event()
    original = getattr(cls, method)

    def paused(self: object, *args: object) -> object:
        result = original(self, *args)
        done.set()
        assert go.wait(10)
        return result

    monkeypatch.setattr(cls, method, paused)
    return done, go


def run_paused(call: Callable[[], object], done: threading.Event, go: threading.Event, revoke: Callable[[], object]):  # type: ignore[no-untyped-def]
    outcome: list[object] = []

    def body() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # noqa: BLE001 - the outcome is checked below
            outcome.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    assert done.wait(10)
    revoke()  # returns while the operation holds its result
    go.set()
    thread.join(10)
    return outcome[0]


@pytest.mark.parametrize("whole_key", [True, False])
@pytest.mark.parametrize("kind", ["aes", "rsa"])
def test_a_decryption_in_flight_fails_once_its_version_is_revoked(
    monkeypatch: pytest.MonkeyPatch, kind: str, whole_key: bool, rsa_pems: Callable[[int], str]
) -> None:
    from kmslib.aes import AESKeyVersion
    from kmslib.rsa import RSAKeyVersion

    kms = KeyCustodian()
    if kind == "aes":
        kms.establish_aes_key("k")
        token = kms.encrypt_data_aes("k", "in flight")
        decrypt: Callable[[], object] = lambda: kms.decrypt_data_aes("k", token)  # noqa: E731
    else:
        kms.import_rsa_key("k", rsa_pems(0))
        token = kms.encrypt_data_rsa("k", "in flight")
        decrypt = lambda: kms.decrypt_data_rsa("k", token)  # noqa: E731
    kms.rotate_key("k")
    done, go = pause_after(monkeypatch, AESKeyVersion if kind == "aes" else RSAKeyVersion, "decrypt")
    revoke = (lambda: kms.invalidate_key("k")) if whole_key else (lambda: kms.invalidate_key("k", version=1))
    result = run_paused(decrypt, done, go, revoke)
    assert isinstance(result, KeyRevokedError), result
    last = kms.audit_log[-1]
    assert (last.operation, last.version, last.outcome) == (f"decrypt_data_{kind}", 1, "KeyRevokedError")


def test_an_encryption_in_flight_fails_once_its_key_is_revoked(monkeypatch: pytest.MonkeyPatch) -> None:
    from kmslib.aes import AESKeyVersion

    kms = KeyCustodian()
    kms.establish_aes_key("k")
    done, go = pause_after(monkeypatch, AESKeyVersion, "encrypt")
    result = run_paused(lambda: kms.encrypt_data_aes("k", "x"), done, go, lambda: kms.invalidate_key("k"))
    assert isinstance(result, KeyRevokedError), result


def test_a_rewrap_in_flight_fails_once_the_old_version_is_revoked(monkeypatch: pytest.MonkeyPatch) -> None:
    from kmslib.aes import AESKeyVersion

    kms = KeyCustodian()
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "x")
    kms.rotate_key("k")
    done, go = pause_after(monkeypatch, AESKeyVersion, "encrypt")  # after the old version's decryption
    result = run_paused(lambda: kms.rewrap("k", token), done, go, lambda: kms.invalidate_key("k", version=1))
    assert isinstance(result, KeyRevokedError), result


def test_no_rsa_decryption_succeeds_whose_cryptography_ended_after_revocation(
    monkeypatch: pytest.MonkeyPatch, rsa_pems: Callable[[int], str]
) -> None:
    # Readers decrypt RSA tokens (about a millisecond of cryptography each) while the key is revoked.
    # Each records when its cryptography ended; no success may have ended it after the revocation returned.
    import time

    from kmslib.rsa import RSAKeyVersion

    kms = KeyCustodian()
    kms.import_rsa_key("k", rsa_pems(0))
    token = kms.encrypt_data_rsa("k", "race")
    ended = threading.local()
    original = RSAKeyVersion.decrypt

    def timed(self: RSAKeyVersion, *args: object) -> object:
        result = original(self, *args)  # type: ignore[arg-type]
        ended.at = time.perf_counter_ns()
        return result

    monkeypatch.setattr(RSAKeyVersion, "decrypt", timed)
    revoked_at: list[int] = []
    successes: list[int] = []
    refused = {"count": 0}
    start = threading.Barrier(4)

    def reader() -> None:
        start.wait()
        while True:
            try:
                kms.decrypt_data_rsa("k", token)
            except KeyRevokedError:
                refused["count"] += 1
                if revoked_at:
                    return
                continue
            successes.append(ended.at)

    def writer() -> None:
        start.wait()
        time.sleep(0.05)
        kms.invalidate_key("k")
        revoked_at.append(time.perf_counter_ns())

    run_together(reader, reader, reader, writer)
    late = [at for at in successes if at > revoked_at[0]]
    assert successes, "no decryption succeeded before the revocation: the race did not happen"
    assert refused["count"] >= 3
    assert late == [], f"{len(late)} decryptions succeeded after their cryptography outlived the revocation"
