"""A lazy, confused or cheating student against the checked exercises of lessons 06 and 08 and the capstone.

Each test is a wrong answer some checker once accepted, a right one it refused, or an answer it crashed
on: an envelope spliced by hand, a revocation poked into a key record, an int, str or datetime subclass
whose methods lie, a path the file system cannot hold, a copy of a store taken too early.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from test_lessons import PYTHON_INTERNALS, verdict

import kmslib
from kmslib import KeyCustodian
from kmslib.course import exercises, lesson06, lesson08
from kmslib.envelope import HEADER, DataKey, split

KEK, ACME_KEK = lesson06.KEK, lesson06.ACME_KEK


def said_twice(exercise: exercises.Exercise, *answer: object) -> tuple[bool, str]:
    """The verdict (no exception escapes), the same when checked again, and in plain words."""
    first = verdict(exercise, *answer)
    assert verdict(exercise, *answer) == first
    for words in PYTHON_INTERNALS:
        assert words not in first[1], first[1]
    return first


def refused(exercise: exercises.Exercise, *answer: object, because: str) -> None:
    ok, said = said_twice(exercise, *answer)
    assert not ok, said
    assert because in said, said


def accepted(exercise: exercises.Exercise, *answer: object) -> None:
    ok, said = said_twice(exercise, *answer)
    assert ok, said


def envelope(token: str, body: bytes | memoryview) -> bytes:
    """An envelope spliced by hand from a wrapped token and another envelope's body."""
    raw = token.encode("ascii")
    return HEADER + struct.pack(">H", len(raw)) + raw + bytes(body)


def l06_after_q1() -> tuple[KeyCustodian, bytes]:
    kms = KeyCustodian()
    kms.establish_aes_key(KEK)
    return kms, bytes(kms.encrypt_envelope(KEK, lesson06.REPORT, associated_data=lesson06.CONTEXT))


# ---------------------------------------------------------------- lesson 06


def test_l06_q2_an_old_envelope_spliced_around_a_reencryption_is_no_rewrap() -> None:
    # Rotate, encrypt REPORT again (no rewrap), and make `old` by hand: sealed's v1 token, the new body.
    kms, sealed = l06_after_q1()
    kms.rotate_key(KEK)
    again = kms.encrypt_envelope(KEK, lesson06.REPORT, associated_data=lesson06.CONTEXT)
    token, _ = split(memoryview(sealed))  # type: ignore[misc]
    _, body = split(memoryview(again))  # type: ignore[misc]
    refused(lesson06.q2, kms, envelope(token, body), again, because="old does not open")
    kms.invalidate_key(KEK, version=1, reason="migrated")  # old's version revoked: nothing left to open
    refused(lesson06.q2, kms, envelope(token, body), again, because="rewrap_envelope")


def test_l06_q2_a_rewrap_by_hand_and_a_revoked_old_version_still_pass() -> None:
    kms, sealed = l06_after_q1()
    kms.rotate_key(KEK)
    new = kms.rewrap_envelope(KEK, sealed, associated_data=lesson06.CONTEXT)
    kms.invalidate_key(KEK, version=1, reason="retention period over")  # after the rewrap, as the lesson does
    accepted(lesson06.q2, kms, sealed, new)


def test_l06_q3_a_data_key_dug_out_of_encrypt_envelope_is_not_one_from_generate_data_key() -> None:
    kms, _ = l06_after_q1()
    made = kms.encrypt_envelope(KEK, lesson06.REPORT)  # the envelope built by kmslib, not by hand
    token, _ = split(memoryview(made))  # type: ignore[misc]
    key = kms.decrypt_data_aes(KEK, token, encoding=None)
    assert isinstance(key, bytes)
    refused(lesson06.q3, kms, DataKey(KEK, 1, key, token), made, because="generate_data_key")


class Agreeable(bytes):
    """Bytes that say they equal everything."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = bytes.__hash__


def test_l06_q3_a_data_key_whose_plaintext_lies_about_equality_is_refused() -> None:
    kms, _ = l06_after_q1()
    data_key = kms.generate_data_key(KEK)
    nonce = os.urandom(12)
    built = envelope(data_key.wrapped, nonce + AESGCM(data_key.plaintext).encrypt(nonce, lesson06.REPORT, HEADER))
    accepted(lesson06.q3, kms, data_key, built)
    liar = DataKey(KEK, data_key.version, Agreeable(bytes(32)), data_key.wrapped)
    refused(lesson06.q3, kms, liar, built, because="data_key.plaintext")


def test_l06_q4_a_revocation_poked_into_the_key_record_destroys_nothing() -> None:
    kms, sealed = l06_after_q1()
    kms.establish_aes_key(ACME_KEK)
    acme = kms.encrypt_envelope(ACME_KEK, lesson06.ACME, associated_data=lesson06.ACME_CONTEXT)
    record = kms._keys[ACME_KEK]
    record.revoked_at = kms.key_info(ACME_KEK).created_at
    record.reason = "customer left"
    assert kms.key_info(ACME_KEK).state == "revoked"  # it looks revoked; its material is all there
    refused(lesson06.q4, kms, acme, sealed, because="invalidate_key")


# ---------------------------------------------------------------- lesson 08


def test_l08_a_path_too_long_for_the_file_system_gets_words_not_a_crash(tmp_path: Path) -> None:
    long = str(tmp_path / ("x" * 5000))
    shares = kmslib.init_store(tmp_path / "s.db", shares=5, threshold=3)
    refused(lesson08.q1, long, shares, because="no file at")
    refused(lesson08.q2, long, shares, "token", because="no file at")
    refused(lesson08.q3, long, shares, kmslib.StoreError("x"), because="no file at")
    refused(lesson08.q4, tmp_path / "s.db", long, shares, shares, because="no file at")


def test_l08_q4_a_copy_taken_before_exercise_3_is_not_every_key(tmp_path: Path) -> None:
    path = tmp_path / "exercise.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("payroll")
    early = tmp_path / "team.db"
    shutil.copy(path, early)  # the copy, taken before exercise 3 made 'reports'
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("reports")
    with KeyCustodian.open(early, shares=shares[:3]) as kms:
        new_shares = kms.rekey(shares[:3], shares=4, threshold=3)
    refused(lesson08.q4, path, early, shares, new_shares, because="'reports'")
