"""Lesson 06 (envelope encryption): every checker judges outcomes; its notebook says what is true.

Each exercise: the published solution passes, two other correct answers pass, plausible wrong answers
(lazy or confused) are refused with a message that says where to look, and checking again gives the
same verdict.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import struct
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from test_lessons import right, run_solution, verdict, wrong

from helpers import ROOT
from kmslib import KeyCustodian
from kmslib.course import lesson06
from kmslib.envelope import DataKey

KEK, ACME_KEK = lesson06.KEK, lesson06.ACME_KEK
NOTEBOOK = ROOT / "notebooks" / "06_envelope_encryption.ipynb"


def by_hand(data_key: DataKey, data: bytes, *, aad: bytes = b"KMSE\x01", little_endian: bool = False) -> bytes:
    """An envelope built by the format (or with one plausible mistake)."""
    nonce = os.urandom(12)
    token = data_key.wrapped.encode("ascii")
    length = struct.pack("<H" if little_endian else ">H", len(token))
    return b"KMSE\x01" + length + token + nonce + AESGCM(data_key.plaintext).encrypt(nonce, data, aad)


def solved(upto: int) -> dict[str, Any]:
    """The names a student has after running the published solutions of q1 to q``upto``, in order."""
    names: dict[str, Any] = {"my_kms": KeyCustodian(), "os": os, "struct": struct, "AESGCM": AESGCM}
    for n in range(1, upto + 1):
        names = run_solution(lesson06, getattr(lesson06, f"q{n}"), **names)
    return names


# ---------------------------------------------------------------- q1


def test_q1_the_solution_and_two_other_right_answers_pass() -> None:
    names = solved(1)
    assert verdict(lesson06.q1, names["my_kms"], names["sealed"])[0]
    right(lesson06.q1, names["my_kms"], bytes(names["sealed"]))
    kms = KeyCustodian()
    kms.establish_aes_key(KEK)
    kms.rotate_key(KEK)  # a KEK rotated before use, and associated data given as bytes
    right(lesson06.q1, kms, kms.encrypt_envelope(KEK, lesson06.REPORT, associated_data=lesson06.CONTEXT.encode()))


def test_q1_refuses_wrong_associated_data_another_kek_and_a_mangled_length_saying_which() -> None:
    kms = solved(1)["my_kms"]
    wrong(lesson06.q1, kms, kms.encrypt_envelope(KEK, lesson06.REPORT), because="opens without associated data")
    other_ad = kms.encrypt_envelope(KEK, lesson06.REPORT, associated_data="file=report.PDF")
    wrong(lesson06.q1, kms, other_ad, because="associated data", not_="made under that KEK")
    kms.establish_aes_key("files-kek")
    other_kek = kms.encrypt_envelope("files-kek", lesson06.REPORT, associated_data=lesson06.CONTEXT)
    wrong(lesson06.q1, kms, other_kek, because="opens under 'files-kek'")
    elsewhere = KeyCustodian()
    elsewhere.establish_aes_key(KEK)
    foreign = elsewhere.encrypt_envelope(KEK, lesson06.REPORT, associated_data=lesson06.CONTEXT)
    unused = KeyCustodian()
    unused.establish_aes_key(KEK)  # its KEK has wrapped nothing: the envelope was made elsewhere
    wrong(lesson06.q1, unused, foreign, because="another custodian")
    data_key = kms.generate_data_key(KEK, associated_data=lesson06.CONTEXT)
    little = by_hand(data_key, lesson06.REPORT, aad=b"KMSE\x01" + lesson06.CONTEXT.encode(), little_endian=True)
    wrong(lesson06.q1, kms, little, because="little-endian", not_="should start with")
    wrong(lesson06.q1, kms, kms.encrypt_data_aes(KEK, "x"), because="text token")
    sealed = bytes(solved(1)["sealed"])
    wrong(lesson06.q1, kms, b"KMSE\x02" + sealed[5:], because="version byte")
    wrong(lesson06.q1, kms, sealed[: len(sealed) - len(lesson06.REPORT) - 20], because="too short")
    wrong(lesson06.q1, kms, sealed[:6], because="ends after its header")
    other = kms.encrypt_envelope(KEK, b"other", associated_data=lesson06.CONTEXT)
    wrong(lesson06.q1, kms, other, because="other data")
    wrong(lesson06.q1, KeyCustodian(), solved(1)["sealed"], because="make the KEK")
    closed = KeyCustodian()
    closed.close()
    wrong(lesson06.q1, closed, other, because="closed")


# ---------------------------------------------------------------- q2


def test_q2_the_solution_and_two_other_right_answers_pass() -> None:
    names = solved(2)
    assert verdict(lesson06.q2, names["my_kms"], names["old"], names["new"])[0]
    right(lesson06.q2, names["my_kms"], bytes(names["old"]), bytes(names["new"]))
    names = solved(1)
    kms, sealed = names["my_kms"], names["sealed"]
    kms.rotate_key(KEK)
    middle = kms.rewrap_envelope(KEK, sealed, associated_data=lesson06.CONTEXT)
    kms.rotate_key(KEK)  # rotated twice, rewrapped at each step
    right(lesson06.q2, kms, sealed, kms.rewrap_envelope(KEK, middle, associated_data=lesson06.CONTEXT))


def test_q2_refuses_the_same_envelope_twice_a_reencryption_and_a_rewrap_before_the_rotation() -> None:
    names = solved(1)
    kms, sealed = names["my_kms"], names["sealed"]
    wrong(lesson06.q2, kms, sealed, sealed, because="rotate")
    early = kms.rewrap_envelope(KEK, sealed, associated_data=lesson06.CONTEXT)  # before the rotation
    kms.rotate_key(KEK)
    wrong(lesson06.q2, kms, sealed, sealed, because="the same envelope")
    wrong(lesson06.q2, kms, sealed, bytes(sealed), because="the same envelope")
    again = kms.encrypt_envelope(KEK, lesson06.REPORT, associated_data=lesson06.CONTEXT)
    wrong(lesson06.q2, kms, sealed, again, because="encrypted again")
    wrong(lesson06.q2, kms, sealed, early, because="under a newer version than old")
    new = kms.rewrap_envelope(KEK, sealed, associated_data=lesson06.CONTEXT)
    wrong(lesson06.q2, kms, new, sealed, because="under a newer version than old")  # swapped
    right(lesson06.q2, kms, sealed, new)
    kms.rotate_key(KEK)  # a later rotation does not undo the exercise
    right(lesson06.q2, kms, sealed, new)


# ---------------------------------------------------------------- q3


def test_q3_the_solution_and_two_other_right_answers_pass() -> None:
    names = solved(3)
    assert verdict(lesson06.q3, names["my_kms"], names["data_key"], names["built"])[0]
    kms = names["my_kms"]
    data_key = kms.generate_data_key(KEK)
    token = data_key.wrapped.encode()
    nonce = secrets.token_bytes(12)
    sealed = bytearray(b"KMSE") + bytes([1]) + len(token).to_bytes(2, "big") + token + nonce
    sealed += AESGCM(data_key.plaintext).encrypt(nonce, lesson06.REPORT, bytes(sealed[:5]))
    right(lesson06.q3, kms, data_key, sealed)
    kms.rotate_key(KEK)  # a data key wrapped by a later version
    later = kms.generate_data_key(KEK)
    right(lesson06.q3, kms, later, by_hand(later, lesson06.REPORT))


def test_q3_refuses_a_throwaway_data_key_a_mangled_format_and_a_made_up_data_key() -> None:
    kms = solved(2)["my_kms"]
    data_key = kms.generate_data_key(KEK)
    throwaway = kms.encrypt_envelope(KEK, lesson06.REPORT)  # the data key above is never used
    wrong(lesson06.q3, kms, data_key, throwaway, because="data_key.wrapped")
    wrong(lesson06.q3, kms, data_key, by_hand(data_key, lesson06.REPORT, little_endian=True), because="little-endian")
    wrong(lesson06.q3, kms, data_key, by_hand(data_key, lesson06.REPORT, aad=b""), because="b'KMSE\\x01'")
    made_up = DataKey(KEK, data_key.version, secrets.token_bytes(32), data_key.wrapped)
    wrong(lesson06.q3, kms, made_up, by_hand(made_up, lesson06.REPORT), because="the DataKey generate_data_key")
    bound = kms.generate_data_key(KEK, associated_data=lesson06.CONTEXT)
    wrong(lesson06.q3, kms, bound, by_hand(bound, lesson06.REPORT), because="no associated data")
    wrong(lesson06.q3, kms, data_key, by_hand(data_key, b"other"), because="other data")
    wrong(lesson06.q3, kms, data_key.wrapped, by_hand(data_key, lesson06.REPORT), because="data_key should be")
    for key in (data_key, made_up, bound):  # no message shows a data key, in any spelling
        for answer in ((key, throwaway), (key, by_hand(key, b"other")), (key, by_hand(key, lesson06.REPORT, aad=b""))):
            said = verdict(lesson06.q3, kms, *answer)[1]
            for spelling in (key.plaintext.hex(), base64.b64encode(key.plaintext).decode(), repr(key.plaintext)):
                assert spelling not in said


# ---------------------------------------------------------------- q4


def test_q4_the_solution_and_two_other_right_answers_pass() -> None:
    names = solved(4)
    assert verdict(lesson06.q4, names["my_kms"], names["acme_sealed"], names["new"])[0]
    for n in (1, 2, 3):  # the earlier exercises still pass after the shred
        exercise = getattr(lesson06, f"q{n}")
        answer = {1: ("sealed",), 2: ("old", "new"), 3: ("data_key", "built")}[n]
        assert verdict(exercise, names["my_kms"], *(names[a] for a in answer))[0]
    names = solved(2)
    kms = names["my_kms"]
    kms.establish_aes_key(ACME_KEK)
    first = kms.encrypt_envelope(ACME_KEK, lesson06.ACME, associated_data=lesson06.ACME_CONTEXT)
    kms.rotate_key(ACME_KEK)  # rotated, and the envelope rewrapped, before the whole key is destroyed
    moved = kms.rewrap_envelope(ACME_KEK, first, associated_data=lesson06.ACME_CONTEXT)
    kms.invalidate_key(ACME_KEK, reason="customer left")
    right(lesson06.q4, kms, moved, names["new"])
    right(lesson06.q4, kms, first, names["sealed"])  # the older envelope, and q1's envelope as the one kept


def test_q4_refuses_a_migration_a_partial_shred_and_a_shred_of_everything() -> None:
    names = solved(2)
    kms, old, new = names["my_kms"], names["old"], names["new"]
    kms.invalidate_key(KEK, version=1, reason="old lesson: revoke v1")  # rotate, rewrap, revoke: a migration
    wrong(lesson06.q4, kms, old, new, because="migration, not an erasure")
    kms.establish_aes_key(ACME_KEK)
    acme = kms.encrypt_envelope(ACME_KEK, lesson06.ACME, associated_data=lesson06.ACME_CONTEXT)
    wrong(lesson06.q4, kms, acme, new, because="still opens")
    kms.rotate_key(ACME_KEK)
    moved = kms.rewrap_envelope(ACME_KEK, acme, associated_data=lesson06.ACME_CONTEXT)
    kms.invalidate_key(ACME_KEK, version=1)
    wrong(lesson06.q4, kms, acme, new, because="every version")  # the rewrapped copy still opens under v2
    kms.invalidate_key(ACME_KEK)
    right(lesson06.q4, kms, moved, new)
    wrong(lesson06.q4, kms, old, new, because="does not hold ACME")  # the report's envelope, not Acme's
    wrong(lesson06.q4, kms, moved, moved, because="kept")


def test_q4_refuses_acme_data_under_the_shared_kek_and_everything_destroyed() -> None:
    names = solved(2)
    kms, new = names["my_kms"], names["new"]
    under_shared = kms.encrypt_envelope(KEK, lesson06.ACME, associated_data=lesson06.ACME_CONTEXT)
    kms.establish_aes_key(ACME_KEK)
    kms.invalidate_key(ACME_KEK)  # an empty KEK destroyed: the data lives under 'kek'
    wrong(lesson06.q4, kms, under_shared, new, because="opens under 'kek'")
    names = solved(2)
    kms, new = names["my_kms"], names["new"]
    kms.establish_aes_key(ACME_KEK, mode="cbc")
    wrong(lesson06.q4, kms, new, new, because="AES-256-GCM")
    names = solved(2)
    kms, new = names["my_kms"], names["new"]
    kms.establish_aes_key(ACME_KEK)
    acme = kms.encrypt_envelope(ACME_KEK, lesson06.ACME, associated_data=lesson06.ACME_CONTEXT)
    kms.invalidate_key(ACME_KEK)
    kms.invalidate_key(KEK)  # every customer's data shredded with Acme's
    wrong(lesson06.q4, kms, acme, new, because="kept (your `new`) no longer opens")


# ---------------------------------------------------------------- the quiz and the notebook


def test_the_quiz_teaches_the_kek_limit_and_real_shredding_with_sources() -> None:
    quiz = lesson06.quiz
    assert len(quiz.questions) == 4
    for number, question in enumerate(quiz.questions, 1):
        assert quiz.answer(number, question.answer)
        assert all(not quiz.answer(number, other) for other in question.choices if other != question.answer)
        assert re.search(r"NIST SP|RFC|AWS|kmslib\.", question.why), question.why  # each answer says its source
    assert len({q.answer for q in quiz.questions}) > 1  # not always the same letter
    choices = " ".join(c for q in quiz.questions for c in q.choices.values())
    assert "too slow" not in choices
    limit, shred = quiz.questions[2], quiz.questions[3]
    assert "KEK" in limit.prompt
    assert "2^32" in limit.choices[limit.answer]
    assert "every copy" in shred.choices[shred.answer]
    assert "800-88" in shred.why


def markdown() -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_the_notebook_says_what_is_true() -> None:
    text = markdown()
    assert "far below its limit" not in text
    assert "keeps every" not in text
    assert "far from that limit" not in text
    assert "gcm_invocation_limit" in text
    assert "KeyStateError" in text
    assert "ScheduleKeyDeletion" in text
    assert "7 to 30 days" in text
    assert "migration, not an erasure" in text
    assert "800-88" in text
    assert "8.3.4" in text
    minutes = int(re.search(r"\*About (\d+) minutes", text).group(1))  # type: ignore[union-attr]
    assert minutes >= 60
    levels = [getattr(lesson06, f"q{n}").level for n in range(1, 5)]
    order = ("recall", "apply", "build", "break")
    assert [order.index(level) for level in levels] == sorted(order.index(level) for level in levels)
    assert "Four exercises" in text
    for n in range(1, 5):
        task = getattr(lesson06, f"q{n}").task
        assert "`kms`" not in task, task
        assert "(kms," not in task, task
        assert "my_kms" in task, task


def test_the_picture_names_each_layer() -> None:
    from kmslib.course import pictures

    shown = "\n".join(t.get_text() for ax in pictures.key_hierarchy().axes for t in [*ax.texts, ax.title])
    for words in ("root key", "KEK (key-encryption key)", "data key 1", "data 3", "never the data"):
        assert words in shown, words
