"""The audit log: every operation and outcome, hash-chained, exportable, verifiable."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from kmslib import AuditEntry, DecryptionError, KeyCustodian, KeyNotFoundError, KeyRevokedError
from kmslib.audit import GENESIS, verify_chain
from kmslib.course import rechain


@pytest.fixture
def busy(kms: KeyCustodian) -> KeyCustodian:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "audited secret")
    kms.decrypt_data_aes("k", token)
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("k", token[:-8] + "AAAAAAA=")
    with pytest.raises(KeyNotFoundError):
        kms.encrypt_data_aes("ghost", "x")
    kms.rotate_key("k")
    kms.rewrap("k", token)
    kms.invalidate_key("k", version=1)
    kms.invalidate_key("k")
    with pytest.raises(KeyRevokedError):
        kms.decrypt_data_aes("k", token)
    return kms


def test_successes_and_failures_are_recorded(busy: KeyCustodian) -> None:
    rows = [(e.operation, e.key_id, e.version, e.outcome) for e in busy.audit_log]
    assert rows == [
        ("establish_aes_key", "k", 1, "ok"),
        ("encrypt_data_aes", "k", 1, "ok"),
        ("decrypt_data_aes", "k", 1, "ok"),
        ("decrypt_data_aes", "k", 1, "DecryptionError"),
        ("encrypt_data_aes", "ghost", None, "KeyNotFoundError"),
        ("rotate_key", "k", 2, "ok"),
        ("rewrap", "k", 2, "ok"),
        ("invalidate_key", "k", 1, "ok"),
        ("invalidate_key", "k", None, "ok"),
        ("decrypt_data_aes", "k", None, "KeyRevokedError"),
    ]
    times = [e.time for e in busy.audit_log]
    assert times == sorted(times)
    assert all(t.utcoffset() == timedelta(0) for t in times)
    assert [e.seq for e in busy.audit_log] == list(range(10))


def test_counting_does_not_need_the_chain(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.encrypt_data_aes("k", "x")
    assert len(kms.audit_log._records) == 2
    assert kms.audit_log._entries == []  # recorded, not hashed yet
    assert len(kms.audit_log) == 2
    assert kms.audit_log._entries == []  # counting hashed nothing
    assert kms.audit_log[-1].seq == 1  # reading does
    assert len(kms.audit_log._entries) == 2


def test_bad_arguments_are_recorded_too(kms: KeyCustodian) -> None:
    with pytest.raises(TypeError):
        kms.establish_aes_key(42)  # type: ignore[arg-type]
    entry = kms.audit_log[-1]
    assert (entry.operation, entry.key_id, entry.outcome) == ("establish_aes_key", None, "ArgumentTypeError")


def test_the_log_never_holds_plaintext_tokens_or_keys(busy: KeyCustodian) -> None:
    exported = busy.audit_log.to_jsonl()
    assert "audited secret" not in exported
    assert "kms:v" not in exported
    for entry in busy.audit_log:
        fields = {"seq", "time", "operation", "key_id", "version", "outcome", "prev_hash", "hash", "principal"}
        assert set(entry.to_dict()) == fields


def test_the_chain_verifies(busy: KeyCustodian) -> None:
    log = busy.audit_log
    assert log.verify()
    assert log[0].prev_hash == GENESIS
    assert all(log[i].prev_hash == log[i - 1].hash for i in range(1, len(log)))
    assert log.head == log[-1].hash
    assert verify_chain(list(log), head=log.head)
    assert log.verify_jsonl(log.to_jsonl(), head=log.head)
    assert KeyCustodian().audit_log.verify()
    assert KeyCustodian().audit_log.head == GENESIS


def test_the_log_is_read_only(busy: KeyCustodian) -> None:
    with pytest.raises(TypeError):
        busy.audit_log[0] = busy.audit_log[1]  # type: ignore[index]
    with pytest.raises(AttributeError):
        busy.audit_log.append(busy.audit_log[0])  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        busy.audit_log[0].outcome = "ok"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        busy.audit_log = None  # type: ignore[misc]


FIELDS = {
    "time": lambda e: e.time + timedelta(seconds=1),
    "operation": lambda e: "key_info",
    "key_id": lambda e: "someone-else",
    "version": lambda e: (e.version or 0) + 1,
    "outcome": lambda e: "ok" if e.outcome != "ok" else "DecryptionError",
    "prev_hash": lambda e: "f" * 64,
    "hash": lambda e: "0" * 64,
    "seq": lambda e: e.seq + 1,
}


@pytest.mark.parametrize("field", FIELDS)
def test_editing_any_field_of_any_entry_is_detected(busy: KeyCustodian, field: str) -> None:
    entries = list(busy.audit_log)
    for index, entry in enumerate(entries):
        edited = [*entries[:index], dataclasses.replace(entry, **{field: FIELDS[field](entry)}), *entries[index + 1 :]]
        assert not verify_chain(edited, head=busy.audit_log.head), (field, index)


def test_an_edit_that_recomputes_its_own_hash_is_still_detected(busy: KeyCustodian) -> None:
    entries = list(busy.audit_log)
    forged = dataclasses.replace(entries[3], outcome="ok")
    forged = dataclasses.replace(forged, hash=forged.expected_hash())
    assert not verify_chain([*entries[:3], forged, *entries[4:]])


def test_removing_any_entry_is_detected(busy: KeyCustodian) -> None:
    entries = list(busy.audit_log)
    for index in range(len(entries)):
        assert not verify_chain(entries[:index] + entries[index + 1 :], head=busy.audit_log.head), index
    # Without the head, only cutting the tail goes unseen: that is what the head is for.
    assert verify_chain(entries[:-1])
    assert not verify_chain(entries[:-1], head=busy.audit_log.head)


def test_reordering_any_two_entries_is_detected(busy: KeyCustodian) -> None:
    entries = list(busy.audit_log)
    for i in range(len(entries)):
        for j in range(i + 1, len(entries)):
            swapped = list(entries)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            assert not verify_chain(swapped), (i, j)


def test_tampering_with_the_exported_jsonl_is_detected(busy: KeyCustodian) -> None:
    lines = busy.audit_log.to_jsonl().splitlines()
    head = busy.audit_log.head
    assert AuditEntry.from_dict(json.loads(lines[0])) == busy.audit_log[0]
    edited = json.loads(lines[4])
    edited["outcome"] = "ok"
    assert not busy.audit_log.verify_jsonl("\n".join([*lines[:4], json.dumps(edited), *lines[5:]]), head=head)
    assert not busy.audit_log.verify_jsonl("\n".join(lines[:2] + lines[3:]), head=head)
    assert not busy.audit_log.verify_jsonl("\n".join([lines[1], lines[0], *lines[2:]]), head=head)
    assert not busy.audit_log.verify_jsonl("not json", head=head)
    assert not busy.audit_log.verify_jsonl('{"seq": 0}')


def test_repr_is_short(busy: KeyCustodian) -> None:
    assert repr(busy.audit_log) == f"AuditLog(entries=10, head='{busy.audit_log.head[:16]}')"
    assert len(busy.audit_log[2:4]) == 2


def test_subscribers_see_every_new_entry_until_they_unsubscribe(kms: KeyCustodian) -> None:
    seen: list[AuditEntry] = []
    unsubscribe = kms.audit_log.subscribe(seen.append)
    kms.establish_aes_key("k")
    with pytest.raises(KeyNotFoundError):
        kms.rotate_key("ghost")
    assert [(e.operation, e.outcome) for e in seen] == [("establish_aes_key", "ok"), ("rotate_key", "KeyNotFoundError")]
    assert seen == list(kms.audit_log)
    unsubscribe()
    unsubscribe()  # twice is harmless
    kms.rotate_key("k")
    assert len(seen) == 2


def test_subscribers_see_encryption_and_decryption_too(kms: KeyCustodian) -> None:
    # The hot path records without a Python call while nobody listens; a subscriber must change that.
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "before anyone listens")
    first: list[AuditEntry] = []
    second: list[AuditEntry] = []
    stop_first = kms.audit_log.subscribe(first.append)
    stop_second = kms.audit_log.subscribe(second.append)
    kms.decrypt_data_aes("k", token)
    stop_first()
    token = kms.encrypt_data_aes("k", "one listener left")
    stop_second()
    kms.decrypt_data_aes("k", token)
    assert [e.operation for e in first] == ["decrypt_data_aes"]
    assert [e.operation for e in second] == ["decrypt_data_aes", "encrypt_data_aes"]
    stop_again = kms.audit_log.subscribe(first.append)
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("k", token[:-4] + "AAA=")
    stop_again()
    assert [(e.operation, e.outcome) for e in first][-1] == ("decrypt_data_aes", "DecryptionError")
    assert len(kms.audit_log) == 6
    assert kms.audit_log.verify()


def test_a_failing_subscriber_does_not_break_operations(kms: KeyCustodian) -> None:
    def broken(entry: AuditEntry) -> None:
        raise RuntimeError("viewer crashed")

    kms.audit_log.subscribe(broken)
    with pytest.warns(RuntimeWarning, match="viewer crashed"):
        info = kms.establish_aes_key("k")
    assert info.key_id == "k"
    assert kms.audit_log.verify()


def test_key_ids_are_logged_as_given_only_when_they_are_short_text(kms: KeyCustodian) -> None:
    long_id = "k" * 1000
    for key_id in (b"k", long_id):
        with pytest.raises((TypeError, KeyNotFoundError, ValueError)):
            kms.encrypt_data_aes(key_id, "x")  # type: ignore[arg-type]
    with pytest.raises(KeyNotFoundError):
        kms.decrypt_data_aes("ghost", "kms:v1:aes-256-gcm:AAAA")
    logged = [(e.key_id, e.outcome) for e in kms.audit_log]
    assert logged[0] == (None, "ArgumentTypeError")
    assert logged[1][0] == "k" * 128
    assert logged[2] == ("ghost", "KeyNotFoundError")


def test_a_custom_clock_stamps_every_entry(kms: KeyCustodian) -> None:
    fixed = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    custodian = KeyCustodian(clock=lambda: fixed)
    custodian.establish_aes_key("k")
    custodian.decrypt_data_aes("k", custodian.encrypt_data_aes("k", "x"))
    assert [e.time for e in custodian.audit_log] == [fixed] * 3


# ---------------------------------------------------------------- what the log promises (issue 11, defect 5)


def to_jsonl(entries: list[AuditEntry]) -> str:
    return "".join(json.dumps(entry.to_dict()) + "\n" for entry in entries)


def test_the_log_hands_out_copies_never_its_own_records(busy: KeyCustodian) -> None:
    log = busy.audit_log
    head = log.head
    entry = log[3]
    assert entry.outcome == "DecryptionError"
    object.__setattr__(entry, "outcome", "ok")
    object.__setattr__(entry, "hash", entry.expected_hash())
    for each in log:
        object.__setattr__(each, "key_id", "someone-else")
    for each in log[0:4]:
        object.__setattr__(each, "operation", "key_info")
    assert log[3].outcome == "DecryptionError"
    assert {e.key_id for e in log} == {"k", "ghost"}
    assert "key_info" not in {e.operation for e in log}
    assert log.head == head
    assert log.verify(head=head)


def test_a_consistent_rewrite_passes_the_chain_alone_but_not_a_saved_head(busy: KeyCustodian) -> None:
    log = busy.audit_log
    head = log.head
    entries = list(log)
    forged = rechain([*entries[:3], dataclasses.replace(entries[3], outcome="ok"), *entries[4:]])
    log._entries[:] = forged  # history rewritten where the log keeps it, every hash recomputed
    assert log.verify()  # internal consistency only: that is all a chain without an outside head proves
    assert not log.verify(head=head)
    assert verify_chain(forged)
    assert not verify_chain(forged, head=head)


def test_verify_jsonl_against_a_saved_head(busy: KeyCustodian) -> None:
    log = busy.audit_log
    head = log.head
    entries = list(log)
    text = log.to_jsonl()
    assert log.verify_jsonl(text, head=head)
    # A cut tail is internally consistent: only the head kept elsewhere shows it.
    assert log.verify_jsonl(to_jsonl(entries[:-1]))
    assert not log.verify_jsonl(to_jsonl(entries[:-1]), head=head)
    assert not log.verify_jsonl("", head=head)
    # Edited, removed, inserted or reordered entries, the chain recomputed each time.
    edited = rechain([*entries[:3], dataclasses.replace(entries[3], outcome="ok"), *entries[4:]])
    removed = rechain(entries[:3] + entries[4:])
    inserted = rechain([*entries[:3], dataclasses.replace(entries[3], operation="rotate_key"), *entries[3:]])
    reordered = rechain([entries[1], entries[0], *entries[2:]])
    for forged in (edited, removed, inserted, reordered):
        assert log.verify_jsonl(to_jsonl(forged))
        assert not log.verify_jsonl(to_jsonl(forged), head=head)
    # Growth since the head was saved chains on from it, and is accepted.
    busy.establish_aes_key("later")
    busy.encrypt_data_aes("later", "more")
    grown = log.to_jsonl()
    assert log.verify_jsonl(grown, head=head)
    assert log.verify(head=head)
    assert log.verify_jsonl(grown, head=GENESIS)  # the head of the empty log
    assert not log.verify_jsonl(grown, head="f" * 64)
    assert not log.verify(head="f" * 64)
    # A rewrite before the head, with growth after it, is still caught.
    regrown = rechain([*entries[:3], dataclasses.replace(entries[3], outcome="ok"), *list(log)[4:]])
    assert not log.verify_jsonl(to_jsonl(regrown), head=head)


def test_foreign_exceptions_are_never_recorded_as_ok(kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch) -> None:
    from kmslib.aes import AESKeyVersion
    from kmslib.errors import DecryptionError as KmslibDecryptionError

    named_ok = type("ok", (Exception,), {})
    kmslib_lookalike = type("ok", (KmslibDecryptionError,), {})
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "x")
    for error in (named_ok, kmslib_lookalike):

        def fail(*args: object, error: type[Exception] = error) -> None:
            raise error()

        monkeypatch.setattr(AESKeyVersion, "encrypt", fail)
        monkeypatch.setattr(AESKeyVersion, "decrypt", fail)
        monkeypatch.setattr(AESKeyVersion, "successor", fail)
        with pytest.raises(error):
            kms.encrypt_data_aes("k", "x")
        with pytest.raises(error):
            kms.decrypt_data_aes("k", token)
        with pytest.raises(error):
            kms.rotate_key("k")
        monkeypatch.undo()
    outcomes = [e.outcome for e in kms.audit_log][2:]
    assert outcomes == ["error:ok"] * 6
    assert all(e.outcome != "ok" for e in kms.audit_log if e.operation != "establish_aes_key" and e.seq >= 2)


def test_a_plaintext_str_subclass_is_encrypted_as_its_plain_text(kms: KeyCustodian) -> None:
    class Sneaky(str):
        __slots__ = ()

        def encode(self, *args: object, **kwargs: object) -> bytes:
            raise type("ok", (Exception,), {})()

    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", Sneaky("hello"), associated_data=Sneaky("ctx"))
    assert kms.decrypt_data_aes("k", token, associated_data="ctx") == "hello"
    assert [e.outcome for e in kms.audit_log] == ["ok", "ok", "ok"]


def test_an_id_that_slices_to_something_else_is_recorded_as_its_plain_value(kms: KeyCustodian) -> None:
    class Weird(str):
        __slots__ = ()

        def __getitem__(self, index: object) -> object:  # type: ignore[override]
            return object()

    with pytest.raises(ValueError, match="characters long"):
        kms.encrypt_data_aes(Weird("w" * 300), "x")
    entries = list(kms.audit_log)  # the first reader does not break
    assert [(e.key_id, e.outcome) for e in entries] == [("w" * 128, "InvalidInputError")]
    assert kms.audit_log.verify()


def test_records_are_plain_values(kms: KeyCustodian) -> None:
    class Version(int):
        def __repr__(self) -> str:
            return "not a number"

    kms.audit_log._append("invalidate_key", "k", Version(3), "ok")
    kms.audit_log._append("invalidate_key", object(), "3", "ok")  # type: ignore[arg-type]
    rows = [(e.key_id, e.version, type(e.version)) for e in kms.audit_log]
    assert rows == [("k", 3, int), (None, None, type(None))]
    assert kms.audit_log.verify()


def reaches(start: object, target: object, limit: int = 20_000) -> bool:
    """Whether ``target`` can be reached from ``start`` through object references (modules and classes aside)."""
    import gc
    import sys
    import types

    module_dicts = {id(vars(m)) for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)}
    seen = {id(start)}
    queue = [start]
    while queue and len(seen) < limit:
        for ref in gc.get_referents(queue.pop()):
            if ref is target:
                return True
            if id(ref) in seen or isinstance(ref, (types.ModuleType, type)) or id(ref) in module_dicts:
                continue
            seen.add(id(ref))
            queue.append(ref)
    return False


def test_the_read_only_log_does_not_lead_back_to_the_custodian(clock: object) -> None:
    for custodian in (KeyCustodian(), KeyCustodian(clock=clock)):  # type: ignore[arg-type]
        custodian.establish_aes_key("k")
        assert reaches(custodian.rotate_key, custodian)  # the walker finds a bound method's owner
        assert not reaches(custodian.audit_log, custodian)
        assert getattr(custodian.audit_log._now, "__self__", None) is not custodian


def test_a_checkpoint_counts_the_entries_up_to_the_head_it_signs_even_if_a_record_lands_between_reads(
    kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch
) -> None:
    kms.establish_aes_key("k")
    kms.generate_signing_key("auditor")
    log = kms.audit_log
    counted = type(log).__len__

    def count_then_another_thread_records(self: object) -> int:  # the interleaving of two threads, made certain
        n = counted(self)  # type: ignore[arg-type]
        kms.encrypt_data_aes("k", "x")
        return n

    monkeypatch.setattr(type(log), "__len__", count_then_another_thread_records)
    checkpoint = kms.sign_audit_checkpoint("auditor")
    monkeypatch.undo()
    count, head = int(checkpoint.split(":")[2]), checkpoint.split(":")[3]
    assert log[count - 1].hash == head
    assert log.count_and_head() == (len(log), log.head)
