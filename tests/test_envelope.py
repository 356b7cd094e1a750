"""Envelope encryption (contract section 7): data keys, the binary envelope, KEK rotation without touching data."""

from __future__ import annotations

import pickle
import struct
import tracemalloc
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from helpers import leaks
from kmslib import (
    ArgumentTypeError,
    DataKey,
    DecryptionError,
    KeyCustodian,
    KeyNotFoundError,
    KeyRevokedError,
    KeyTypeError,
    MessageTooLongError,
    envelope,
)
from kmslib.tokens import format_token, parse_token

KEK = bytes(range(7, 39))


@pytest.fixture
def kms(kms: KeyCustodian) -> KeyCustodian:
    kms.import_aes_key("kek", KEK)
    return kms


def parts(sealed: bytes | bytearray) -> tuple[str, bytes, bytes, bytes]:
    """Read an envelope by the format alone: (wrapped token, nonce, ciphertext, tag)."""
    assert sealed[:5] == b"KMSE\x01"
    (n,) = struct.unpack(">H", sealed[5:7])
    wrapped = bytes(sealed[7 : 7 + n]).decode("ascii")
    body = bytes(sealed[7 + n :])
    return wrapped, body[:12], body[12:-16], body[-16:]


def test_round_trip_for_every_bytes_like_and_associated_data(kms: KeyCustodian) -> None:
    for data in (b"", b"x", b"hello envelope" * 100, bytearray(b"mutable"), memoryview(b"a view")):
        for aad in (None, "tenant=7", b"\x00\xff"):
            sealed = kms.encrypt_envelope("kek", data, associated_data=aad)
            assert isinstance(sealed, bytearray)
            assert kms.decrypt_envelope("kek", sealed, associated_data=aad) == bytes(data)
            assert kms.decrypt_envelope("kek", bytes(sealed), associated_data=aad) == bytes(data)
            assert kms.decrypt_envelope("kek", memoryview(sealed), associated_data=aad) == bytes(data)
    a = kms.encrypt_envelope("kek", b"same")
    b = kms.encrypt_envelope("kek", b"same")
    assert parts(a)[1] != parts(b)[1]  # a fresh nonce
    assert parts(a)[0] != parts(b)[0]  # and a fresh data key, wrapped afresh


def test_raw_pyca_reads_an_envelope(kms: KeyCustodian) -> None:
    sealed = kms.encrypt_envelope("kek", b"read me with pyca", associated_data=b"ctx")
    wrapped, nonce, ciphertext, tag = parts(sealed)
    version, algorithm, payload = parse_token(wrapped)
    assert (version, algorithm) == (1, "aes-256-gcm")
    data_key = AESGCM(KEK).decrypt(payload[:12], payload[12:], b"ctx")
    assert len(data_key) == 32
    assert AESGCM(data_key).decrypt(nonce, ciphertext + tag, b"KMSE\x01" + b"ctx") == b"read me with pyca"


def test_an_envelope_built_by_hand_decrypts(kms: KeyCustodian) -> None:
    data_key, key_nonce, data_nonce = bytes(range(32)), b"\x01" * 12, b"\x02" * 12
    wrapped = format_token(1, "aes-256-gcm", key_nonce + AESGCM(KEK).encrypt(key_nonce, data_key, None)).encode()
    body = data_nonce + AESGCM(data_key).encrypt(data_nonce, b"built by hand", b"KMSE\x01")
    sealed = b"KMSE\x01" + struct.pack(">H", len(wrapped)) + wrapped + body
    assert kms.decrypt_envelope("kek", sealed) == b"built by hand"


def test_every_bit_flip_and_every_truncation_is_refused(kms: KeyCustodian) -> None:
    sealed = bytes(kms.encrypt_envelope("kek", b"tamper with me", associated_data=b"ctx"))
    for bit in range(len(sealed) * 8):
        flipped = bytearray(sealed)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((DecryptionError, KeyRevokedError)) as err:
            kms.decrypt_envelope("kek", flipped, associated_data=b"ctx")
        assert err.type is DecryptionError, bit  # no flip names a revoked version here
    for length in range(len(sealed)):
        with pytest.raises(DecryptionError):
            kms.decrypt_envelope("kek", sealed[:length], associated_data=b"ctx")
    with pytest.raises(DecryptionError):
        kms.decrypt_envelope("kek", sealed + b"\x00", associated_data=b"ctx")


def test_other_kek_or_other_associated_data_is_the_one_error_without_cause(kms: KeyCustodian) -> None:
    kms.establish_aes_key("other")
    sealed = kms.encrypt_envelope("kek", b"the secret data", associated_data=b"ctx")
    calls: list[Callable[[], object]] = [
        lambda: kms.decrypt_envelope("other", sealed, associated_data=b"ctx"),
        lambda: kms.decrypt_envelope("kek", sealed, associated_data=b"other ctx"),
        lambda: kms.decrypt_envelope("kek", sealed),
        lambda: kms.rewrap_envelope("kek", sealed, associated_data=b"other ctx"),
        lambda: kms.decrypt_envelope("kek", b"KMSE\x01\x00\x05kms:v" + bytes(40)),
        lambda: kms.decrypt_envelope("kek", b"not an envelope at all, not at all"),
    ]
    body = bytearray(sealed)
    body[-1] ^= 1  # the data's tag: the data key unwraps, the data does not
    calls.append(lambda: kms.decrypt_envelope("kek", body, associated_data=b"ctx"))
    for call in calls:
        with pytest.raises(DecryptionError) as err:
            call()
        assert leaks(err.value, [b"the secret data", KEK]) == [], call
        assert not any("data_key" in found for found in leaks(err.value, [])), call


def test_kek_rotation_rewraps_only_the_header_then_the_old_version_is_refused(kms: KeyCustodian) -> None:
    sealed = kms.encrypt_envelope("kek", b"x" * 5000, associated_data="ctx")
    kms.rotate_key("kek")
    moved = kms.rewrap_envelope("kek", sealed, associated_data="ctx")
    old, new = parts(sealed), parts(moved)
    assert parse_token(old[0])[0] == 1
    assert parse_token(new[0])[0] == 2
    assert old[1:] == new[1:]  # nonce, ciphertext and tag: byte for byte the same
    kms.invalidate_key("kek", version=1, reason="rotated out")
    with pytest.raises(KeyRevokedError, match="version 1"):
        kms.decrypt_envelope("kek", sealed, associated_data="ctx")
    with pytest.raises(KeyRevokedError):
        kms.rewrap_envelope("kek", sealed, associated_data="ctx")
    assert kms.decrypt_envelope("kek", moved, associated_data="ctx") == b"x" * 5000
    kms.invalidate_key("kek", reason="crypto-shredding: every envelope under it is now unreadable")
    with pytest.raises(KeyRevokedError):
        kms.decrypt_envelope("kek", moved, associated_data="ctx")


def test_a_kek_must_be_aes_256_gcm(kms: KeyCustodian, rsa_pems: Callable[[int], str]) -> None:
    kms.establish_aes_key("cbc", mode="cbc")
    kms.import_rsa_key("rsa", rsa_pems(0))
    for key_id in ("cbc", "rsa"):
        for call in (
            lambda k=key_id: kms.encrypt_envelope(k, b"data"),
            lambda k=key_id: kms.generate_data_key(k),
            lambda k=key_id: kms.generate_data_key_without_plaintext(k),
            lambda k=key_id: kms.decrypt_envelope(k, kms.encrypt_envelope("kek", b"data")),
        ):
            with pytest.raises(KeyTypeError):
                call()
    with pytest.raises(KeyNotFoundError):
        kms.encrypt_envelope("nope", b"data")
    with pytest.raises(ArgumentTypeError, match="encode a str first"):
        kms.encrypt_envelope("kek", "text")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError):
        kms.decrypt_envelope("kek", "text")  # type: ignore[arg-type]


def test_data_keys_hide_their_bytes_and_unwrap_with_decrypt_data_aes(kms: KeyCustodian) -> None:
    data_key = kms.generate_data_key("kek", associated_data="file=report.pdf")
    assert isinstance(data_key, DataKey)
    assert len(data_key.plaintext) == 32
    assert (data_key.key_id, data_key.version) == ("kek", 1)
    for shown in (repr(data_key), str(data_key)):
        assert data_key.plaintext.hex() not in shown
        assert "hidden" in shown
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(data_key)
    unwrapped = kms.decrypt_data_aes("kek", data_key.wrapped, associated_data="file=report.pdf", encoding=None)
    assert unwrapped == data_key.plaintext
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("kek", data_key.wrapped, encoding=None)
    wrapped = kms.generate_data_key_without_plaintext("kek")
    assert wrapped.startswith("kms:v1:aes-256-gcm:")
    assert len(kms.decrypt_data_aes("kek", wrapped, encoding=None)) == 32


def test_envelope_operations_are_audited_without_secrets(kms: KeyCustodian) -> None:
    sealed = kms.encrypt_envelope("kek", b"audited data")
    kms.decrypt_envelope("kek", sealed)
    kms.generate_data_key("kek")
    with pytest.raises(DecryptionError):
        kms.decrypt_envelope("kek", sealed[:-1])
    kms.rotate_key("kek")
    kms.rewrap_envelope("kek", sealed)
    rows = [(e.operation, e.key_id, e.version, e.outcome) for e in kms.audit_log][1:]
    assert rows == [
        ("encrypt_envelope", "kek", 1, "ok"),
        ("decrypt_envelope", "kek", 1, "ok"),
        ("generate_data_key", "kek", 1, "ok"),
        ("decrypt_envelope", "kek", 1, "DecryptionError"),  # the data key unwrapped; the cut data did not
        ("rotate_key", "kek", 2, "ok"),
        ("rewrap_envelope", "kek", 2, "ok"),
    ]
    exported = kms.audit_log.to_jsonl()
    assert "audited data" not in exported
    assert "kms:v" not in exported


def test_encrypting_takes_the_input_plus_the_output_and_little_more(kms: KeyCustodian) -> None:
    size = 16 * 1024 * 1024
    data = bytes(size)
    kms.encrypt_envelope("kek", b"warm up")
    tracemalloc.start()
    try:
        sealed = kms.encrypt_envelope("kek", data)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        opened = kms.decrypt_envelope("kek", sealed)
        _, peak_open = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(sealed) < size + 200
    assert peak < size + 64 * 1024, peak - size  # the output, and a small constant: no copy of the data
    assert peak_open < len(sealed) + size + 64 * 1024  # what was there, plus the output
    assert opened == data


@given(data=st.binary(max_size=2048), aad=st.one_of(st.none(), st.binary(max_size=64)))
def test_hypothesis_round_trip(data: bytes, aad: bytes | None) -> None:
    kms = KeyCustodian()
    kms.import_aes_key("kek", KEK)
    assert (
        kms.decrypt_envelope("kek", kms.encrypt_envelope("kek", data, associated_data=aad), associated_data=aad) == data
    )


def test_generate_data_key_without_plaintext_has_its_own_audit_name(kms: KeyCustodian) -> None:
    kms.generate_data_key_without_plaintext("kek")
    kms.generate_data_key("kek")
    with pytest.raises(KeyNotFoundError):
        kms.generate_data_key_without_plaintext("nope")
    rows = [(e.operation, e.key_id, e.version, e.outcome) for e in kms.audit_log][1:]
    assert rows == [
        ("generate_data_key_without_plaintext", "kek", 1, "ok"),  # no plaintext key left the custodian
        ("generate_data_key", "kek", 1, "ok"),
        ("generate_data_key_without_plaintext", "nope", None, "KeyNotFoundError"),
    ]


def envelope_of(wrapped: str, body: bytes) -> bytes:
    token = wrapped.encode("ascii")
    return b"KMSE\x01" + struct.pack(">H", len(token)) + token + body


def test_rewrap_refuses_an_envelope_it_cannot_authenticate(kms: KeyCustodian) -> None:
    sealed = bytes(kms.encrypt_envelope("kek", b"genuine data", associated_data=b"ctx"))
    wrapped = parts(sealed)[0]
    tampered = bytearray(sealed)
    tampered[-1] ^= 1  # the data's tag
    forged = [
        bytes(tampered),
        envelope_of(wrapped, bytes(28)),  # a body of 28 zero bytes
        envelope_of(wrapped, bytes(12 + 16)),
        envelope_of(kms.encrypt_data_aes("kek", "not a data key", associated_data=b"ctx"), sealed[-40:]),
        envelope_of(kms.encrypt_data_aes("kek", bytes(31), associated_data=b"ctx"), sealed[-40:]),
        envelope_of(kms.encrypt_data_aes("kek", bytes(33), associated_data=b"ctx"), sealed[-40:]),
    ]
    kms.rotate_key("kek")
    entries = len(kms.audit_log)
    for forgery in forged:
        with pytest.raises(DecryptionError) as err:
            kms.rewrap_envelope("kek", forgery, associated_data=b"ctx")
        assert leaks(err.value, [b"genuine data", KEK]) == []
    assert [e.outcome for e in kms.audit_log][entries:] == ["DecryptionError"] * len(forged)
    moved = kms.rewrap_envelope("kek", sealed, associated_data=b"ctx")  # the genuine one still moves
    assert kms.decrypt_envelope("kek", moved, associated_data=b"ctx") == b"genuine data"


def test_a_header_that_would_outgrow_its_length_field_is_the_one_decryption_error(kms: KeyCustodian) -> None:
    for _ in range(8):
        kms.rotate_key("kek")
    wrapped = kms.encrypt_data_aes("kek", bytes(49109))  # a version-9 token of exactly 65,535 characters
    assert len(wrapped) == 65535
    envelope = envelope_of(wrapped, bytes(40))
    kms.rotate_key("kek")  # version 10: one more digit would not fit the uint16 length
    with pytest.raises(DecryptionError) as err:
        kms.rewrap_envelope("kek", envelope)
    assert err.value.__context__ is None


def test_a_genuine_header_is_short_whatever_the_associated_data(kms: KeyCustodian) -> None:
    # The header holds only the wrapped 32-byte data key, never the associated data.
    for aad in (None, b"", b"x" * 100_000):
        sealed = kms.encrypt_envelope("kek", b"data", associated_data=aad)
        assert len(parts(sealed)[0]) == len(format_token(1, "aes-256-gcm", bytes(60)))
    assert envelope.MAX_WRAPPED_BYTES < 2**16
    assert len(format_token(999_999_999, "aes-256-gcm", bytes(60))) <= envelope.MAX_WRAPPED_BYTES


ONE_ENVELOPE_VARIANTS: dict[str, Callable[[str], str]] = {
    "leading space": lambda t: " " + t,
    "trailing newline": lambda t: t + "\n",
    "trailing CRLF": lambda t: t + "\r\n",
    "leading tab": lambda t: "\t" + t,
    "trailing space": lambda t: t + " ",
    "extra padding": lambda t: t + "=",
    "padding bits set": lambda t: t[:-2] + "B=",
}


@pytest.mark.parametrize("variant", ONE_ENVELOPE_VARIANTS)
def test_an_envelope_has_exactly_one_encoding(kms: KeyCustodian, variant: str) -> None:
    sealed = bytes(kms.encrypt_envelope("kek", b"one encoding"))
    wrapped, nonce, ciphertext, tag = parts(sealed)
    other = envelope_of(ONE_ENVELOPE_VARIANTS[variant](wrapped), nonce + ciphertext + tag)
    assert other != sealed
    with pytest.raises(DecryptionError):
        kms.decrypt_envelope("kek", other)
    with pytest.raises(DecryptionError):
        kms.rewrap_envelope("kek", other)
    assert kms.decrypt_envelope("kek", sealed) == b"one encoding"


def test_data_or_associated_data_over_the_limit_is_refused_before_any_cryptography(
    kms: KeyCustodian, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(envelope, "MAX_DATA_BYTES", 100)
    monkeypatch.setattr(envelope, "MAX_ASSOCIATED_DATA_BYTES", 50)
    entries = len(kms.audit_log)
    assert (
        len(
            kms.decrypt_envelope(
                "kek", kms.encrypt_envelope("kek", bytes(100), associated_data=bytes(50)), associated_data=bytes(50)
            )
        )
        == 100
    )
    calls: list[Callable[[], object]] = [
        lambda: kms.encrypt_envelope("kek", bytes(101)),
        lambda: kms.encrypt_envelope("kek", b"x", associated_data=bytes(51)),
        lambda: kms.generate_data_key("kek", associated_data=bytes(51)),
        lambda: kms.generate_data_key_without_plaintext("kek", associated_data=bytes(51)),
        lambda: kms.decrypt_envelope("kek", kms.encrypt_envelope("kek", b"x"), associated_data=bytes(51)),
        lambda: kms.rewrap_envelope("kek", kms.encrypt_envelope("kek", b"x"), associated_data=bytes(51)),
    ]
    for call in calls:
        with pytest.raises(MessageTooLongError, match=r"at most (100|50) bytes") as err:
            call()
        assert leaks(err.value, [KEK]) == []
    outcomes = [e.outcome for e in kms.audit_log][entries:]
    assert "MessageTooLongError" in outcomes
    assert not any(o.startswith("error:") for o in outcomes)


def test_the_limits_are_pyca_aesgcm_limits(kms: KeyCustodian) -> None:
    # pyca/cryptography's AESGCM takes data and associated data of at most 2**31 - 1 bytes, and raises
    # OverflowError beyond. bytes(n) is calloc'd: the untouched pages cost no memory.
    assert envelope.MAX_DATA_BYTES == 2**31 - 1
    assert 2**31 - 1 - len(b"KMSE\x01") == envelope.MAX_ASSOCIATED_DATA_BYTES
    nonce = bytes(12)
    with pytest.raises(OverflowError):
        AESGCM(KEK).encrypt(nonce, bytes(2**31), None)
    with pytest.raises(OverflowError):
        AESGCM(KEK).encrypt(nonce, b"", bytes(2**31))
    huge = bytes(2**31)
    for call in (
        lambda: kms.encrypt_envelope("kek", huge),
        lambda: kms.encrypt_envelope("kek", b"x", associated_data=bytes(2**31 - 5)),
        lambda: kms.generate_data_key("kek", associated_data=huge),
        lambda: kms.encrypt_data_aes("kek", huge),
        lambda: kms.encrypt_data_aes("kek", b"x", associated_data=huge),
        lambda: kms.decrypt_data_aes("kek", kms.encrypt_data_aes("kek", "x"), associated_data=huge),
    ):
        with pytest.raises(MessageTooLongError, match=str(2**31 - 6) + "|" + str(2**31 - 1)):
            call()
    assert not any(e.outcome.startswith("error:") for e in kms.audit_log)


def test_rewrap_checks_every_part_of_a_long_body_in_constant_memory(kms: KeyCustodian) -> None:
    size = 4 * 1024 * 1024 + 5  # many of authentic()'s pieces, and a short last one
    sealed = bytes(kms.encrypt_envelope("kek", bytes(size)))
    kms.rotate_key("kek")
    start = len(sealed) - 16 - size  # the ciphertext
    for offset in (start, start + 70_000, len(sealed) - 17, len(sealed) - 1):
        flipped = bytearray(sealed)
        flipped[offset] ^= 0x80
        with pytest.raises(DecryptionError):
            kms.rewrap_envelope("kek", flipped)
    kms.rewrap_envelope("kek", sealed)  # warm up
    tracemalloc.start()
    try:
        moved = kms.rewrap_envelope("kek", sealed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(sealed) + 256 * 1024, peak - len(sealed)  # the new envelope, and no copy of the plaintext
    assert kms.decrypt_envelope("kek", moved) == bytes(size)


def test_a_gcm_payload_longer_than_pyca_takes_is_the_one_decryption_failure() -> None:
    """No token kmslib makes is that long: beyond pyca's limit a payload is malformed, not an OverflowError."""
    from kmslib.aes import GCM_MAX_PLAINTEXT, AESKeyVersion

    material = AESKeyVersion.generate("gcm")
    assert material.decrypt(bytes(12 + GCM_MAX_PLAINTEXT + 1 + 16), None) is None  # calloc'd: no memory touched
