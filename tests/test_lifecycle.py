"""Versions, rotation, rewrap, revocation of one version or a whole key, the clock, KeyInfo."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helpers import StepClock
from kmslib import (
    REVOCATION_SUCCESSFUL,
    ArgumentTypeError,
    DecryptionError,
    InvalidInputError,
    KeyCustodian,
    KeyExistsError,
    KeyNotFoundError,
    KeyRevokedError,
    KeyTypeError,
    inspect_token,
)


def test_rotation_keeps_old_tokens_readable_and_encrypts_with_the_newest(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    tokens = {1: kms.encrypt_data_aes("k", "one")}
    before = kms.key_info("k")
    for version in (2, 3):
        info = kms.rotate_key("k")
        assert info.version == version
        assert info.fingerprint != before.fingerprint
        tokens[version] = kms.encrypt_data_aes("k", f"v{version}")
        assert inspect_token(tokens[version]).version == version
    assert kms.decrypt_data_aes("k", tokens[1]) == "one"
    assert kms.decrypt_data_aes("k", tokens[2]) == "v2"
    assert kms.decrypt_data_aes("k", tokens[3]) == "v3"
    assert kms.key_info("k").algorithm == before.algorithm
    assert kms.key_info("k").created_at == before.created_at


def test_rotation_keeps_the_rsa_key_size(kms: KeyCustodian) -> None:
    from cryptography.hazmat.primitives import serialization

    kms.generate_rsa_pair("big", key_size=3072, padding="pkcs1v15")
    kms.rotate_key("big")
    public = serialization.load_pem_public_key(kms.export_public_key("big").encode())
    assert public.key_size == 3072  # type: ignore[union-attr]
    assert kms.encrypt_data_rsa("big", "x" * 373).startswith("kms:v2:rsa-pkcs1v15:")  # 384 - 11 bytes


def test_rotation_keeps_the_mode_and_padding(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    kms.establish_aes_key("cbc", mode="cbc")
    kms.import_rsa_key("rsa", rsa_pems(0), padding="pkcs1v15")
    assert kms.rotate_key("cbc").algorithm == "aes-256-cbc"
    assert kms.encrypt_data_aes("cbc", "x").startswith("kms:v2:aes-256-cbc:")
    old = kms.encrypt_data_rsa("rsa", "old")
    old_pem = kms.export_public_key("rsa")
    info = kms.rotate_key("rsa")
    assert (info.version, info.algorithm) == (2, "rsa-pkcs1v15")
    assert kms.export_public_key("rsa") != old_pem
    assert kms.decrypt_data_rsa("rsa", old) == "old"
    assert kms.decrypt_data_rsa("rsa", kms.encrypt_data_rsa("rsa", "new")) == "new"


def test_rewrap_moves_tokens_to_the_newest_version(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    old = kms.encrypt_data_aes("k", "payroll", associated_data="table=salaries")
    kms.rotate_key("k")
    kms.rotate_key("k")
    new = kms.rewrap("k", old, associated_data="table=salaries")
    assert inspect_token(new).version == 3
    assert inspect_token(new).nonce != inspect_token(old).nonce
    assert kms.decrypt_data_aes("k", new, associated_data="table=salaries") == "payroll"
    with pytest.raises(DecryptionError):  # the same associated data is bound again
        kms.decrypt_data_aes("k", new)
    with pytest.raises(DecryptionError):
        kms.rewrap("k", old)  # without the associated data it cannot be opened


def test_rewrap_rsa(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    kms.import_rsa_key("r", rsa_pems(0))
    old = kms.encrypt_data_rsa("r", "wrapped")
    kms.rotate_key("r")
    new = kms.rewrap("r", old)
    assert inspect_token(new).version == 2
    assert kms.decrypt_data_rsa("r", new) == "wrapped"
    with pytest.raises(InvalidInputError, match="cannot bind associated_data"):
        kms.rewrap("r", old, associated_data="x")


def test_revoking_one_version(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    v1 = kms.encrypt_data_aes("k", "first")
    kms.rotate_key("k")
    rewrapped = kms.rewrap("k", v1)
    assert kms.invalidate_key("k", version=1, reason="laptop stolen") == REVOCATION_SUCCESSFUL
    with pytest.raises(KeyRevokedError, match="version 1 of key 'k' was revoked"):
        kms.decrypt_data_aes("k", v1)
    with pytest.raises(KeyRevokedError):
        kms.rewrap("k", v1)
    assert kms.decrypt_data_aes("k", rewrapped) == "first"
    info = kms.key_info("k")
    assert (info.state, info.revoked_versions, info.reason, info.revoked_at) == ("active", (1,), "laptop stolen", None)
    with pytest.raises(KeyRevokedError, match="already revoked"):
        kms.invalidate_key("k", version=1)


def test_the_newest_version_cannot_be_revoked_alone(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    with pytest.raises(InvalidInputError, match="rotate first"):
        kms.invalidate_key("k", version=1)
    kms.rotate_key("k")
    with pytest.raises(InvalidInputError, match="rotate first"):
        kms.invalidate_key("k", version=2)
    with pytest.raises(KeyNotFoundError, match="no version 3"):
        kms.invalidate_key("k", version=3)
    with pytest.raises(KeyNotFoundError, match="no version 0"):
        kms.invalidate_key("k", version=0)
    with pytest.raises(ArgumentTypeError, match="version must be an int"):
        kms.invalidate_key("k", version="1")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="version must be an int"):
        kms.invalidate_key("k", version=True)
    assert kms.key_info("k").revoked_versions == ()


def test_revoking_the_whole_key_leaves_a_tombstone(kms: KeyCustodian, clock: StepClock) -> None:
    kms.establish_aes_key("k")
    token = kms.encrypt_data_aes("k", "x")
    kms.rotate_key("k")
    assert kms.invalidate_key("k", reason="decommissioned") == "Key Revocation Successful"
    info = kms.key_info("k")
    assert info.state == "revoked"
    assert not info.active
    assert info.revoked_versions == (1, 2)
    assert info.reason == "decommissioned"
    assert info.revoked_at is not None
    revocation = kms.audit_log[-1]
    assert revocation.operation == "invalidate_key"
    assert info.created_at < info.revoked_at <= revocation.time == clock.now
    assert info in kms.list_keys()
    for call in (
        lambda: kms.encrypt_data_aes("k", "x"),
        lambda: kms.decrypt_data_aes("k", token),
        lambda: kms.rotate_key("k"),
        lambda: kms.rewrap("k", token),
        lambda: kms.invalidate_key("k"),
        lambda: kms.invalidate_key("k", version=1),
        lambda: kms.decrypt_data_aes("k", "not even a token"),
    ):
        with pytest.raises(KeyRevokedError):
            call()
    with pytest.raises(KeyExistsError):
        kms.establish_aes_key("k")
    with pytest.raises(KeyExistsError):
        kms.import_aes_key("k", bytes(32))


def test_revoked_rsa_key_exports_nothing(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    kms.import_rsa_key("r", rsa_pems(0))
    kms.invalidate_key("r")
    with pytest.raises(KeyRevokedError):
        kms.export_public_key("r")
    with pytest.raises(KeyRevokedError):
        kms.encrypt_data_rsa("r", "x")


def test_revocation_destroys_the_material(kms: KeyCustodian) -> None:
    kms.import_aes_key("k", bytes(range(32)))
    record = kms._keys["k"]  # white-box: the bytes really are overwritten
    material = record.versions[1]
    kms.invalidate_key("k")
    assert record.versions == {}
    assert bytes(material._key) == bytes(32)
    # An operation already holding it gets nothing (and the custodian then raises KeyRevokedError).
    assert material.encrypt(b"x", None) is None
    assert material.decrypt(bytes(44), None) is None


def test_unknown_ids_and_bad_reasons(kms: KeyCustodian) -> None:
    with pytest.raises(KeyNotFoundError):
        kms.invalidate_key("ghost")
    with pytest.raises(KeyNotFoundError):
        kms.rotate_key("ghost")
    with pytest.raises(KeyNotFoundError):
        kms.key_info("ghost")
    kms.establish_aes_key("k")
    with pytest.raises(ArgumentTypeError, match="reason must be a str"):
        kms.invalidate_key("k", reason=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="501 characters"):
        kms.invalidate_key("k", reason="x" * 501)
    assert kms.key_info("k").active


def test_key_info_is_immutable_metadata(kms: KeyCustodian) -> None:
    info = kms.establish_aes_key("k")
    assert [f.name for f in dataclasses.fields(info)] == [
        "key_id",
        "kind",
        "algorithm",
        "version",
        "revoked_versions",
        "state",
        "created_at",
        "revoked_at",
        "reason",
        "fingerprint",
        "version_reasons",
        "activate_at",
        "version_states",
        "policy",
        "version_created",
        "protection",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.state = "revoked"  # type: ignore[misc]
    kms.rotate_key("k")
    assert info.version == 1  # a snapshot
    assert kms.key_info("k").version == 2


def test_list_keys_in_creation_order(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    kms.establish_aes_key("b")
    kms.import_rsa_key("a", rsa_pems(0))
    kms.establish_aes_key("c", mode="cbc")
    kms.invalidate_key("b")
    assert [(i.key_id, i.kind, i.state) for i in kms.list_keys()] == [
        ("b", "aes", "revoked"),
        ("a", "rsa", "active"),
        ("c", "aes", "active"),
    ]
    assert len(kms) == 3
    assert "a" in kms
    assert repr(kms) == "KeyCustodian(keys=3, active=2)"


def test_the_clock_is_injectable(clock: StepClock) -> None:
    kms = KeyCustodian(clock=clock)
    info = kms.establish_aes_key("k")
    assert info.created_at == datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)
    assert kms.audit_log[0].time == datetime(2026, 1, 1, 12, 0, 2, tzinfo=UTC)
    other_zone = KeyCustodian(clock=lambda: datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))))
    assert other_zone.establish_aes_key("k").created_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert other_zone.key_info("k").created_at.tzinfo == UTC


def test_a_bad_clock_is_refused() -> None:
    with pytest.raises(ArgumentTypeError, match="clock must be callable"):
        KeyCustodian(clock=datetime.now())  # type: ignore[arg-type]
    naive = KeyCustodian(clock=datetime.now)
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        naive.establish_aes_key("k")


def test_default_clock_is_utc_now() -> None:
    before = datetime.now(UTC)
    info = KeyCustodian().establish_aes_key("k")
    assert before <= info.created_at <= datetime.now(UTC)


def test_export_rules(kms: KeyCustodian) -> None:
    kms.establish_aes_key("aes")
    with pytest.raises(KeyTypeError, match="secrets are never exported"):
        kms.export_public_key("aes")
    with pytest.raises(KeyNotFoundError):
        kms.export_public_key("ghost")


def test_revoking_the_whole_key_keeps_the_reason_of_every_version(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k")
    kms.rotate_key("k")
    kms.rotate_key("k")
    kms.rotate_key("k")
    kms.invalidate_key("k", version=1, reason="laptop stolen")
    kms.invalidate_key("k", version=2)
    kms.invalidate_key("k", version=3, reason="cryptoperiod over")
    info = kms.key_info("k")
    assert info.version_reasons == ((1, "laptop stolen"), (3, "cryptoperiod over"))
    assert info.reason == "cryptoperiod over"  # while the key lives: the latest reason given
    assert "version_reasons" in repr(info)
    kms.invalidate_key("k", reason="service retired")
    info = kms.key_info("k")
    assert (info.state, info.reason) == ("revoked", "service retired")
    assert info.version_reasons == ((1, "laptop stolen"), (3, "cryptoperiod over"))
    assert info.revoked_versions == (1, 2, 3, 4)
    kms.establish_aes_key("j")
    kms.rotate_key("j")
    kms.invalidate_key("j", version=1, reason="leaked")
    kms.invalidate_key("j")  # no reason for the whole key: the version's stays
    assert kms.key_info("j").version_reasons == ((1, "leaked"),)
    assert kms.key_info("j").reason is None
