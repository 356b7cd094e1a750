"""The audit log: every operation and outcome, hash-chained, exportable, verifiable."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from kmslib import AuditEntry, DecryptionError, KeyCustodian, KeyNotFoundError, KeyRevokedError
from kmslib.audit import GENESIS, verify_chain


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
    assert len(kms.audit_log._pending) == 2  # recorded, not hashed yet
    assert len(kms.audit_log) == 2
    assert len(kms.audit_log._pending) == 2  # counting hashed nothing
    assert kms.audit_log[-1].seq == 1  # reading does
    assert not kms.audit_log._pending


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
        assert set(entry.to_dict()) == {"seq", "time", "operation", "key_id", "version", "outcome", "prev_hash", "hash"}


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
