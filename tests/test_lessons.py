"""The lessons' exercises and quizzes: each known wrong answer is refused, correct answers pass.

Checkers judge what the student built (a custodian, its audit log, a token), so the tests build
answers as a student would, right and wrong, and run every exercise's published solution.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from types import ModuleType
from typing import Any

import pytest

from helpers import ROOT
from kmslib import (
    AuditLog,
    DecryptionError,
    InvalidPeerKeyError,
    KeyCustodian,
    KeyRevokedError,
    KMSError,
    MessageTooLongError,
    encrypt_with_public_key,
    inspect_token,
)
from kmslib.course import (
    ____,
    capstone,
    cbc_token,
    exercises,
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
    lesson10,
    lesson11,
    tamper,
)
from kmslib.tokens import format_token


def run_solution(module: ModuleType, exercise: exercises.Exercise, **names: Any) -> dict[str, Any]:
    """Run an exercise's solution as a notebook cell would, with the lesson's names imported."""
    namespace: dict[str, Any] = {
        **{name: getattr(module, name) for name in module.__all__},
        "tamper": tamper,
        "cbc_token": cbc_token,
        "inspect_token": inspect_token,
        "format_token": format_token,
        "KeyCustodian": KeyCustodian,
        **names,
    }
    exec(exercise.solution_code, namespace)
    return namespace


def verdict(exercise: exercises.Exercise, *answer: object) -> tuple[bool, str]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = exercise.check(*answer)
    return bool(result), out.getvalue()


def refused(exercise: exercises.Exercise, *answer: object, because: str) -> None:
    ok, said = verdict(exercise, *answer)
    assert not ok, said
    assert because in said, said


def accepted(exercise: exercises.Exercise, *answer: object) -> None:
    ok, said = verdict(exercise, *answer)
    assert ok, said


def same_twice(exercise: Any, *answer: object) -> tuple[bool, str]:
    """The verdict, asserted to be the same when checked again; no Python internals in it."""
    first = verdict(exercise, *answer)
    assert verdict(exercise, *answer) == first
    for words in PYTHON_INTERNALS:
        assert words not in first[1], first[1]
    return first


def wrong(exercise: Any, *answer: object, because: str, not_: str | None = None) -> None:
    """Refused, with ``because`` in the words (and not ``not_``), the same twice, without Python internals."""
    ok, said = same_twice(exercise, *answer)
    assert not ok, said
    assert because in said, said
    assert not_ is None or not_ not in said, said


def right(exercise: Any, *answer: object) -> None:
    """Passed, the same twice, without Python internals."""
    ok, said = same_twice(exercise, *answer)
    assert ok, said


# ---------------------------------------------------------------- the machinery


def test_blanks_hints_and_solutions_stay_hidden_until_asked(capsys: pytest.CaptureFixture[str]) -> None:
    refused(lesson01.q1, ____, because="replace the blank")
    assert "establish_aes_key" not in capsys.readouterr().out
    lesson01.q1.hint()
    assert capsys.readouterr().out.startswith("Hint: ")
    lesson01.q1.solution()
    assert "establish_aes_key" in capsys.readouterr().out
    assert repr(lesson01.q1).startswith("Exercise 1 (recall): ")
    with pytest.raises(ValueError, match="level"):
        exercises.Exercise(9, "guess", "a task", lambda: None, "", "")


def test_the_quiz_checks_at_once_and_explains() -> None:
    quiz = lesson01.quiz
    assert "1. Which of these is a safe AES-256 key?" in repr(quiz)
    assert 'quiz.answer(1, "a")' in quiz._repr_markdown_()
    for number, question in enumerate(quiz.questions, 1):
        wrong = next(letter for letter in question.choices if letter != question.answer)
        assert quiz.answer(number, question.answer.upper())
        assert not quiz.answer(number, wrong)
    assert not quiz.answer(1, ____)
    assert not quiz.answer(1, "z")
    assert not quiz.answer(99, "a")
    with pytest.raises(ValueError, match="not one of the choices"):
        exercises.Question("?", {"a": "x"}, "b", "")


def test_the_quizzes_of_lessons_01_02_04_are_unambiguous_with_distractors_worth_choosing() -> None:
    tag = lesson01.quiz.questions[2]  # the tag covers the nonce as well: a choice that leaves it out is ambiguous
    assert "nonce" in tag.choices[tag.answer]
    assert all("slower" not in choice for choice in lesson01.quiz.questions[3].choices.values())
    assert "2048" not in lesson02.quiz.questions[0].choices.values()  # the key's size in bits, not a byte count
    assert "AES keys cannot be stored otherwise" not in lesson02.quiz.questions[2].choices.values()
    forged = lesson02.quiz.questions[1]  # whether random bytes "decrypt" depends on decoding them as text
    assert "encoding=None" in forged.prompt
    for quiz in (lesson01.quiz, lesson02.quiz, lesson04.quiz):
        for number, question in enumerate(quiz.questions, 1):
            assert quiz.answer(number, question.answer)
            assert all(not quiz.answer(number, other) for other in question.choices if other != question.answer)


PYTHON_INTERNALS = (
    "unhashable",
    "positional argument",
    "list indices",
    "has no attribute",
    "object is not",
    "NoneType",
    "Expecting value",
    "Traceback",
    "kmslib raised",
)


_ODD_SHAPED = [
    (f"{module.__name__.rsplit('.', 1)[1]}-q{n}", module.__dict__[f"q{n}"])
    for module in (lesson01, lesson02, lesson04, lesson05, lesson06, lesson08, lesson09, lesson10, lesson11, capstone)
    for n in range(1, 7)
    if f"q{n}" in module.__dict__
]


@pytest.mark.parametrize("exercise", [q for _, q in _ODD_SHAPED], ids=[name for name, _ in _ODD_SHAPED])
def test_odd_shapes_and_counts_get_plain_words_not_python_internals(exercise: exercises.Exercise) -> None:
    import inspect as pyinspect

    closed = KeyCustodian()
    closed.close()
    count = len(pyinspect.signature(exercise._checker).parameters)
    # 10**6, not a small number: a small index can be the right answer by chance (04 q3 asks for an entry).
    odd: tuple[object, ...] = (None, [], {}, 10**6, "x", b"x", ["a", "b"], object(), closed, KeyCustodian())
    answers = [tuple(value for _ in range(count)) for value in odd]
    answers += [(value, *(["x"] * (count - 1))) for value in odd]
    answers += [("x",) * (count + 1), ("x",) * max(count - 1, 0)]
    for answer in answers:
        ok, said = verdict(exercise, *answer)
        assert not ok, answer
        for words in PYTHON_INTERNALS:
            assert words not in said, (answer, said)
    if next(iter(pyinspect.signature(exercise._checker).parameters)) == "kms":  # it takes a custodian first
        ok, said = verdict(exercise, closed, *["x"] * (count - 1))
        assert "closed" in said, said


# ---------------------------------------------------------------- lesson 01


def test_l01_q1_refuses_guessable_keys_and_other_kinds() -> None:
    kms = KeyCustodian()
    refused(lesson01.q1, kms, because="no key 'vault'")
    refused(lesson01.q1, "kms", because="pass your KeyCustodian")
    kms.establish_aes_key("vault", mode="cbc")
    refused(lesson01.q1, kms, because="AES-256-GCM")
    for weak in (
        hashlib.sha256(b"password").digest(),
        hashlib.sha256(b"").digest(),
        random.Random(42).randbytes(32),
        bytes(range(32)),
    ):
        kms = KeyCustodian()
        kms.import_aes_key("vault", weak)
        refused(lesson01.q1, kms, because="the first thing a guesser tries")
    kms = KeyCustodian()
    with pytest.raises(ValueError, match="one byte repeated"):  # zeros never get as far as the checker
        kms.import_aes_key("vault", bytes(32))
    kms.establish_aes_key("vault")
    kms.invalidate_key("vault")
    refused(lesson01.q1, kms, because="revoked")


def test_l01_q1_accepts_every_key_from_the_csprng() -> None:
    for make in (
        lambda kms: kms.establish_aes_key("vault"),
        lambda kms: kms.establish_aes_key("vault", mode="gcm"),
        lambda kms: (kms.establish_aes_key("vault"), kms.rotate_key("vault")),
        lambda kms: (kms.establish_aes_key("draft", mode="cbc"), kms.establish_aes_key("vault")),
    ):
        kms = KeyCustodian()
        make(kms)
        accepted(lesson01.q1, kms)
        accepted(lesson01.q1, kms)  # checking twice is harmless
    accepted(lesson01.q1, run_solution(lesson01, lesson01.q1, kms=KeyCustodian())["kms"])


def test_l01_q1_refuses_an_imported_key_it_cannot_tell_from_a_guess() -> None:
    # sha256 of a passphrase nobody lists, and a CSPRNG key, look the same once imported: the checker asks
    # for a key the custodian drew itself, which its audit log shows, and refuses both imports alike.
    for imported in (hashlib.sha256(b"correct horse battery staple 1987").digest(), secrets.token_bytes(32)):
        kms = KeyCustodian()
        kms.import_aes_key("vault", imported)
        refused(lesson01.q1, kms, because="establish_aes_key")
    ok, first = verdict(lesson01.q1, kms)
    assert (ok, first) == verdict(lesson01.q1, kms)  # the same verdict again
    # A throwaway establish_aes_key beside the imported key changes nothing.
    kms.establish_aes_key("other")
    refused(lesson01.q1, kms, because="establish_aes_key")
    # Rotating an imported key replaces its bytes with the CSPRNG's: that key nobody can guess.
    kms.rotate_key("vault")
    accepted(lesson01.q1, kms)


def test_l01_q1_judges_the_key_not_an_earlier_refused_attempt() -> None:
    kms = KeyCustodian()
    with pytest.raises(KMSError):
        kms.import_aes_key("vault", b"too short")  # refused: nothing was made
    kms.establish_aes_key("vault")
    accepted(lesson01.q1, kms)


def test_l01_q1_says_a_closed_custodian_is_closed() -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("vault")
    kms.close()
    refused(lesson01.q1, kms, because="closed")


def test_l01_q2_refuses_the_original_a_new_encryption_and_broken_tokens() -> None:
    token = lesson01.order_token
    refused(lesson01.q2, token, because="original order")
    mine = KeyCustodian()
    mine.establish_aes_key("k", mode="cbc")
    refused(lesson01.q2, mine.encrypt_data_aes("k", lesson01.TARGET), because="cannot encrypt anew")
    refused(lesson01.q2, tamper(token, 11, ord("0") ^ ord("8")), because="make it read")
    refused(lesson01.q2, tamper(token, 11, 0x80), because="refused the token")  # not UTF-8 any more
    refused(lesson01.q2, "kms:v1:aes-256-cbc:!!", because="not a well-formed token")
    refused(lesson01.q2, 42, because="not int")
    refused(lesson01.q2, format_token(2, "aes-256-cbc", b"\0" * 48), because="v1 aes-256-cbc")


def test_l01_q2_accepts_the_flip_however_it_is_written() -> None:
    namespace = run_solution(lesson01, lesson01.q2)
    accepted(lesson01.q2, namespace["forged"])
    parts = inspect_token(lesson01.order_token)
    assert parts.nonce is not None
    iv = bytearray(parts.nonce)
    iv[11] ^= ord("0") ^ ord("9")
    accepted(lesson01.q2, cbc_token(bytes(iv), parts.ciphertext))


def test_l01_q3_needs_the_attack_through_the_oracle_and_the_exact_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lesson01.oracle, "queries", 0)
    monkeypatch.setattr(lesson01.oracle, "_asked", set())
    refused(lesson01.q3, bytes(16), because="never asked")
    for _ in range(20):  # the oracle asked, but only about the real token, again and again
        lesson01.oracle(lesson01.secret_token)
    refused(lesson01.q3, lesson01._SECRET, because="forged two-block tokens")
    parts = inspect_token(lesson01.secret_token)
    assert parts.nonce is not None
    for guess in range(16):  # the first steps of the attack: forged IVs before the secret's block
        lesson01.oracle(cbc_token(bytes([guess]) * 16, parts.ciphertext[:16]))
    refused(lesson01.q3, bytes(15), because="a block is 16 bytes")
    refused(lesson01.q3, None, because="as bytes")
    refused(lesson01.q3, [1, 2, 3], because="as bytes")


def test_l01_q3_feedback_is_no_oracle_for_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = inspect_token(lesson01.secret_token)
    for guess in range(16):
        lesson01.oracle(cbc_token(bytes([guess]) * 16, parts.ciphertext[:16]))
    secret = lesson01._SECRET
    wrong_first = bytes([secret[0] ^ 1]) + secret[1:]
    said = {verdict(lesson01.q3, guess) for guess in (wrong_first, bytes(16), secret[:15] + b"?", b"PIN=0000;acct=00")}
    assert len(said) == 1, said  # one wrong answer reads like any other: no count of right bytes
    ((ok, message),) = said
    assert not ok
    assert "of 16" not in message
    assert "in a row" not in message


def test_l01_q3_the_attack_reads_the_secret_through_the_oracle_alone() -> None:
    before = lesson01.oracle.queries
    namespace = run_solution(lesson01, lesson01.q3)
    assert namespace["recovered"] == lesson01._SECRET
    assert 16 <= lesson01.oracle.queries - before <= 16 * 256 + 1
    accepted(lesson01.q3, namespace["recovered"])
    accepted(lesson01.q3, namespace["recovered"].decode())
    accepted(lesson01.q3, namespace["recovered"] + bytes([16]) * 16)


def test_l01_q4_gcm_refuses_both_attacks() -> None:
    token = lesson01.gcm_order_token
    digit = 12 + lesson01.ORDER.index("amt=") + 4
    refused(lesson01.q4, token, 0, because="gcm_order_token itself")
    refused(lesson01.q4, tamper(token, digit - 12, ord("0") ^ ord("9")), 0, because="flip byte 12 + i")
    forged = tamper(token, digit, ord("0") ^ ord("9"))
    with pytest.raises(DecryptionError):
        lesson01._bank.decrypt_data_aes("orders-gcm", forged)
    if lesson01.gcm_oracle.queries < 255:
        refused(lesson01.q4, forged, 0, because="255 forged nonces")
    namespace = run_solution(lesson01, lesson01.q4)
    assert namespace["accepted"] == 0
    refused(lesson01.q4, forged, 3, because="accepted none of the forgeries")
    refused(lesson01.q4, forged, "0", because="an int")
    accepted(lesson01.q4, forged, 0)
    accepted(lesson01.q4, namespace["forged_gcm"], namespace["accepted"])


def test_l01_q4_judges_the_forged_nonces_asked_not_the_number_of_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lesson01.gcm_oracle, "queries", 0)
    monkeypatch.setattr(lesson01.gcm_oracle, "_asked", set())
    token = lesson01.gcm_order_token
    forged = tamper(token, 12 + lesson01.ORDER.index("amt=") + 4, ord("0") ^ ord("9"))
    for _ in range(255):  # lazy: the real token, 255 times
        lesson01.gcm_oracle(token)
    refused(lesson01.q4, forged, 0, because="0 of the 255 forged nonces")
    for _ in range(255):  # one forged nonce, 255 times
        lesson01.gcm_oracle(tamper(token, 11, 1))
    refused(lesson01.q4, forged, 0, because="1 of the 255 forged nonces")
    for mask in range(1, 128):  # half of them
        lesson01.gcm_oracle(tamper(token, 11, mask))
    refused(lesson01.q4, forged, 0, because="127 of the 255 forged nonces")
    # Another correct way: XOR the last nonce byte with every non-zero mask, counting the True answers.
    count = sum(lesson01.gcm_oracle(tamper(token, 11, mask)) for mask in range(1, 256))
    accepted(lesson01.q4, forged, count)
    accepted(lesson01.q4, tamper(token, 12 + lesson01.ORDER.index("amt=") + 4, b"\x09"), 0)  # a one-byte mask
    refused(lesson01.q4, forged, 255, because="accepted none of the forgeries")
    refused(lesson01.q4, forged, True, because="an int")
    refused(lesson01.q4, forged, 0.0, because="an int")
    refused(lesson01.q4, "not a token", 0, because="start from gcm_order_token")


# ---------------------------------------------------------------- lesson 04


def test_l04_q1_needs_a_revoked_key_and_a_real_reason() -> None:
    kms = KeyCustodian()
    refused(lesson04.q1, kms, because="no key 'laptop-disk'")
    kms.establish_aes_key("laptop-disk")
    refused(lesson04.q1, kms, because="still active")
    kms.rotate_key("laptop-disk")
    kms.invalidate_key("laptop-disk", version=1, reason="stolen")
    refused(lesson04.q1, kms, because="still active")  # one version is not the whole key
    for reason in (None, "   "):
        other = KeyCustodian()
        other.establish_aes_key("laptop-disk")
        other.invalidate_key("laptop-disk", reason=reason)
        refused(lesson04.q1, other, because="give a reason")
    accepted(lesson04.q1, run_solution(lesson04, lesson04.q1, kms=KeyCustodian())["kms"])


def test_l04_q1_the_reason_must_say_something() -> None:
    for reason in ("x", "-", "stolen", "asdfgh", "1234 5678"):
        kms = KeyCustodian()
        kms.establish_aes_key("laptop-disk")
        kms.invalidate_key("laptop-disk", reason=reason)
        refused(lesson04.q1, kms, because="at least two words")
    for reason in ("Stolen: reported to the police, case 1234", "ноутбук украден в поезде"):
        kms = KeyCustodian()
        kms.establish_aes_key("laptop-disk")
        kms.rotate_key("laptop-disk")
        kms.invalidate_key("laptop-disk", reason=reason)
        accepted(lesson04.q1, kms)
        accepted(lesson04.q1, kms)


def test_l04_q1_judges_the_revocation_not_an_earlier_refused_one() -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("laptop-disk")
    with pytest.raises(KMSError):
        kms.invalidate_key("laptop-disk", reason="stolen " * 100)  # over 500 characters: refused, nothing revoked
    refused(lesson04.q1, kms, because="still active")
    kms.invalidate_key("laptop-disk", reason="laptop stolen at the airport")
    accepted(lesson04.q1, kms)


def test_l04_q2_malformed_tokens_get_plain_words() -> None:
    kms, tokens = lesson04.records()
    kms.rotate_key("records")
    refused(lesson04.q2, kms, ["not a token", *tokens[1:]], because="new_tokens[0] is not a token")


def test_l04_q2_needs_a_reason_for_version_1() -> None:
    for reason in (None, "x", "leak"):
        kms, tokens = lesson04.records()
        kms.rotate_key("records")
        new_tokens = [kms.rewrap("records", token) for token in tokens]
        kms.invalidate_key("records", version=1, reason=reason)
        refused(lesson04.q2, kms, new_tokens, because="at least two words")


def test_l04_q2_judges_the_outcome_after_an_earlier_refused_step() -> None:
    kms, tokens = lesson04.records()
    with pytest.raises(KMSError):
        kms.invalidate_key("records", version=1, reason="version 1 leaked")  # the newest: refused, nothing changed
    kms.rotate_key("records")
    new_tokens = [kms.rewrap("records", token) for token in tokens]
    kms.invalidate_key("records", version=1, reason="version 1 leaked")
    accepted(lesson04.q2, kms, new_tokens)


def test_l04_q2_refuses_the_wrong_orders() -> None:
    # Revoking before rewrapping: the rewraps fail, the data is stranded.
    kms, tokens = lesson04.records()
    kms.rotate_key("records")
    kms.invalidate_key("records", version=1, reason="leak")
    with pytest.raises(KeyRevokedError):
        kms.rewrap("records", tokens[0])
    refused(lesson04.q2, kms, tokens, because="still at version 1")
    # Decrypt-then-encrypt instead of rewrap: the audit log shows it.
    kms, tokens = lesson04.records()
    kms.rotate_key("records")
    copies = [kms.encrypt_data_aes("records", kms.decrypt_data_aes("records", token)) for token in tokens]
    kms.invalidate_key("records", version=1, reason="leak")
    refused(lesson04.q2, kms, copies, because="decrypt-then-encrypt")
    # Revoking the version that holds the rewrapped data.
    kms, tokens = lesson04.records()
    kms.rotate_key("records")
    moved = [kms.rewrap("records", token) for token in tokens]
    kms.rotate_key("records")
    kms.invalidate_key("records", version=2, reason="oops")
    refused(lesson04.q2, kms, moved, because="that is the version that holds the data")
    # Revoking the whole key; not revoking at all; no rotation.
    kms, tokens = lesson04.records()
    kms.rotate_key("records")
    moved = [kms.rewrap("records", token) for token in tokens]
    refused(lesson04.q2, kms, moved, because="not revoked yet")
    kms.invalidate_key("records")
    refused(lesson04.q2, kms, moved, because="whole key")
    kms, tokens = lesson04.records()
    refused(lesson04.q2, kms, tokens, because="still at version 1")
    refused(lesson04.q2, kms, tokens[:2], because="the list of the 3")
    refused(lesson04.q2, KeyCustodian(), [], because="records() gave you")


def test_l04_q2_accepts_the_right_order_however_it_is_done() -> None:
    namespace = run_solution(lesson04, lesson04.q2)
    accepted(lesson04.q2, namespace["kms"], namespace["new_tokens"])
    # A loop instead of a comprehension, two rotations before the rewraps, a reason: all fine.
    kms, tokens = lesson04.records()
    kms.rotate_key("records")
    kms.rotate_key("records")
    new_tokens = []
    for token in tokens:
        new_tokens.append(kms.rewrap("records", token))
    kms.invalidate_key("records", version=1, reason="leaked in a backup")
    accepted(lesson04.q2, kms, new_tokens)
    accepted(lesson04.q2, kms, new_tokens)  # and again: the checker's own decryptions do not count against it


def test_l04_q3_finds_the_first_entry_that_differs_from_its_saved_head() -> None:
    edited = lesson04._EDITED
    refused(lesson04.q3, edited + 1, because="Look earlier")
    refused(lesson04.q3, edited - 1, because="still matches")
    refused(lesson04.q3, len(lesson04.saved_heads), because="entries 0 to")
    refused(lesson04.q3, "3", because="an int")
    if edited + 2 < len(lesson04.saved_heads):
        refused(lesson04.q3, edited + 2, because="not the first")
    refused(lesson04.q3, True, because="an int")
    refused(lesson04.q3, [edited], because="an int")
    assert AuditLog.verify_jsonl(lesson04.exported)  # the forgery is consistent on its own
    namespace = run_solution(lesson04, lesson04.q3, json=__import__("json"))
    assert namespace["first_bad"] == edited
    accepted(lesson04.q3, namespace["first_bad"])
    accepted(lesson04.q3, namespace["first_bad"])  # and again


def test_l04_q3_accepts_other_ways_of_finding_the_edit() -> None:
    import json

    lines = [json.loads(line) for line in lesson04.exported.splitlines()]
    # The smallest seq whose hash differs, however it is found.
    accepted(lesson04.q3, min(e["seq"] for e in lines if e["hash"] != lesson04.saved_heads[e["seq"]]))
    # The last entry that still verifies against its saved head, plus one.
    good = [e["seq"] for e in lines if AuditLog.verify_jsonl(lesson04.exported, head=lesson04.saved_heads[e["seq"]])]
    accepted(lesson04.q3, max(good) + 1)


def test_l04_q4_only_a_saved_head_catches_the_forgery() -> None:
    from kmslib.course import rewrite_log

    namespace = run_solution(lesson04, lesson04.q4, rewrite_log=rewrite_log)
    head, export, forged = namespace["head"], namespace["export"], namespace["forged"]
    accepted(lesson04.q4, head, export, forged)
    refused(lesson04.q4, head, export, export, because="the export itself")
    refused(lesson04.q4, head, export, forged.replace('"seq": 1', '"seq": 7'), because="on its own")
    late = rewrite_log(export, len(export.splitlines()) - 1, outcome="DecryptionError")
    refused(lesson04.q4, head, export, late, because="at or before the saved head")
    refused(lesson04.q4, "f" * 64, export, forged, because="does not contain the head")
    kms = KeyCustodian()
    kms.establish_aes_key("k")
    kms.rotate_key("k")
    short = kms.audit_log.to_jsonl()
    refused(lesson04.q4, kms.audit_log[0].hash, short, rewrite_log(short, 0, key_id="x"), because="at least 3")
    refused(lesson04.q4, head, None, forged, because="three strings")


def test_l04_q4_refuses_an_empty_a_foreign_or_a_malformed_forgery() -> None:
    from kmslib.course import rewrite_log

    namespace = run_solution(lesson04, lesson04.q4, rewrite_log=rewrite_log)
    head, export, forged = namespace["head"], namespace["export"], namespace["forged"]
    assert verdict(lesson04.q4, head, export, forged)[0]
    refused(lesson04.q4, head, export, "", because="an entry edited")
    refused(lesson04.q4, head, export, rewrite_log(export, 0).splitlines()[0] + "\n", because="an entry edited")
    other = KeyCustodian()
    other.establish_aes_key("ledger")
    for day in ("mon", "tue", "wed"):
        other.encrypt_data_aes("ledger", day)
    refused(lesson04.q4, head, export, other.audit_log.to_jsonl(), because="another log")
    for malformed in ("not json", "{}", "[1, 2]", '{"seq": "x"}'):
        ok, said = verdict(lesson04.q4, head, export, malformed)
        assert not ok
        assert "not an exported audit log" in said, said
        ok, said = verdict(lesson04.q4, head, malformed, forged)
        assert not ok
        assert "not an exported audit log" in said, said
        assert "Expecting" not in said
        assert "JSONDecodeError" not in said


def test_l04_q4_accepts_other_forgeries_the_head_catches() -> None:
    from kmslib.course import rewrite_log

    kms = KeyCustodian()
    kms.establish_aes_key("ledger")
    kms.encrypt_data_aes("ledger", "opening")
    head = kms.audit_log.head
    for day in ("mon", "tue", "wed", "thu"):
        kms.encrypt_data_aes("ledger", f"totals {day}")
    export = kms.audit_log.to_jsonl()
    accepted(lesson04.q4, head, export, rewrite_log(export, 1, outcome="DecryptionError"))  # the head's own entry
    twice = rewrite_log(rewrite_log(export, 0, key_id="other"), 3, operation="decrypt_data_aes")
    accepted(lesson04.q4, head, export, twice)
    who = rewrite_log(export, 0, principal="mallory")  # only who did it: "who did this" is what a log answers
    accepted(lesson04.q4, head, export, who)


# ---------------------------------------------------------------- lesson 02


def test_l02_q1_the_oaep_limit_and_the_near_misses() -> None:
    for wrong, because in ((245, "PKCS#1 v1.5"), (256, "modulus"), (2048, "modulus"), (189, "try encrypting")):
        refused(lesson02.q1, wrong, because=because)
    refused(lesson02.q1, "190", because="an int")
    namespace = run_solution(lesson02, lesson02.q1, MessageTooLongError=MessageTooLongError)
    assert namespace["limit"] == 190
    accepted(lesson02.q1, 190)


def bob_with_a_data_key() -> tuple[KeyCustodian, Any]:
    bob = KeyCustodian()
    bob.establish_aes_key("kek")
    return bob, bob.generate_data_key("kek")


def test_l02_q2_hybrid_encryption_of_a_kibibyte() -> None:
    namespace = run_solution(lesson02, lesson02.q2, secrets=secrets, encrypt_with_public_key=encrypt_with_public_key)
    bob, data_key, wrapped, report = (namespace[n] for n in ("bob", "data_key", "wrapped_key", "report_token"))
    accepted(lesson02.q2, bob, data_key, wrapped, report)
    accepted(lesson02.q2, bob, data_key, wrapped, report)  # and again
    accepted(lesson02.q2, bob, data_key.wrapped, wrapped, report)  # the wrapped data key alone says as much
    bob.rotate_key("kek")  # the KEK rotated and the data key rewrapped: still a key the custodian drew
    accepted(lesson02.q2, bob, bob.rewrap("kek", data_key.wrapped), wrapped, report)
    # Another way: the report encrypted in a second custodian, under a KEK rotated first.
    mine = KeyCustodian()
    mine.establish_aes_key("bob-kek")
    mine.rotate_key("bob-kek")
    key = mine.generate_data_key("bob-kek")
    sender = KeyCustodian()
    sender.import_aes_key("report", key.plaintext)
    accepted(
        lesson02.q2,
        mine,
        key,
        encrypt_with_public_key(lesson02.alice_public_pem, key.plaintext),
        sender.encrypt_data_aes("report", lesson02.REPORT),
    )
    mine, key = bob_with_a_data_key()
    data_key = key.plaintext
    mine.import_aes_key("gcm", data_key)
    mine.import_aes_key("cbc", data_key, mode="cbc")
    mine.generate_rsa_pair("own-rsa")
    good = mine.encrypt_data_aes("gcm", lesson02.REPORT)
    right = encrypt_with_public_key(lesson02.alice_public_pem, data_key)
    refused(
        lesson02.q2, mine, key, wrapped, mine.encrypt_data_rsa("own-rsa", b"x" * 100), because="far over RSA's limit"
    )
    refused(lesson02.q2, mine, key, wrapped, mine.encrypt_data_aes("cbc", lesson02.REPORT), because="CBC")
    refused(
        lesson02.q2, mine, key, mine.encrypt_data_aes("gcm", data_key), good, because="wrap the data key with Alice"
    )
    refused(lesson02.q2, mine, key, mine.encrypt_data_rsa("own-rsa", data_key), good, because="Alice cannot unwrap")
    hexed = encrypt_with_public_key(lesson02.alice_public_pem, data_key.hex())
    refused(lesson02.q2, mine, key, hexed, good, because="64 bytes")
    refused(lesson02.q2, mine, key, wrapped, good, because="not the one")
    refused(lesson02.q2, mine, key, right, mine.encrypt_data_aes("gcm", b"other"), because="to something else")
    refused(lesson02.q2, mine, key, good, good, because="wrap the data key with Alice")  # the same token twice
    accepted(lesson02.q2, mine, key, right, good)


def test_l02_q2_the_data_key_must_come_from_the_custodian() -> None:
    from kmslib.envelope import DataKey

    for made_up in (bytes(range(32)), hashlib.sha256(b"report key").digest(), secrets.token_bytes(32)):
        mine, key = bob_with_a_data_key()  # a throwaway data key beside the one really used
        mine.import_aes_key("report", made_up)
        answer = (
            encrypt_with_public_key(lesson02.alice_public_pem, made_up),
            mine.encrypt_data_aes("report", lesson02.REPORT),
        )
        refused(lesson02.q2, mine, key, *answer, because="not the one")
        # A hand-made DataKey, whose "wrapped" key the KEK encrypted on request: the log shows it.
        fake = DataKey("kek", 1, made_up, mine.encrypt_data_aes("kek", made_up))
        refused(lesson02.q2, mine, fake, *answer, because="encrypt_data_aes")
        refused(lesson02.q2, mine, fake.wrapped, *answer, because="encrypt_data_aes")
    # A KEK imported from known bytes: its "data keys" could be made outside.
    mine = KeyCustodian()
    mine.import_aes_key("kek", secrets.token_bytes(32))
    key = mine.generate_data_key("kek")
    mine.import_aes_key("report", key.plaintext)
    answer = (
        encrypt_with_public_key(lesson02.alice_public_pem, key.plaintext),
        mine.encrypt_data_aes("report", lesson02.REPORT),
    )
    refused(lesson02.q2, mine, key, *answer, because="establish_aes_key")
    refused(lesson02.q2, "bob", key, *answer, because="pass your KeyCustodian")
    refused(lesson02.q2, mine, b"key", *answer, because="generate_data_key returned")
    refused(lesson02.q2, KeyCustodian(), key, *answer, because="does not open")


def test_l02_q3_implicit_rejection() -> None:
    namespace = run_solution(lesson02, lesson02.q3, tamper=tamper)
    kms, token, forged, result = (namespace[name] for name in ("kms", "token", "forged", "result"))
    assert isinstance(result, bytes)
    assert result != b"Classified Information"
    accepted(lesson02.q3, kms, token, forged, result)
    refused(lesson02.q3, kms, token, token, result, because="forge the token")
    refused(lesson02.q3, kms, token, forged, DecryptionError(), because="result is an exception")
    refused(lesson02.q3, kms, token, forged, "text", because="encoding=None")
    refused(lesson02.q3, kms, token, forged, b"made up", because="does not give that result")
    kms.generate_rsa_pair("modern")
    modern = kms.encrypt_data_rsa("modern", "x")
    refused(lesson02.q3, kms, modern, tamper(modern, 100, 1), b"", because="PKCS#1 v1.5 key")


def test_l02_q4_rewrap_after_rotation_not_decrypt_and_encrypt() -> None:
    namespace = run_solution(lesson02, lesson02.q4, secrets=secrets)
    accepted(lesson02.q4, namespace["kms"], "wrapping", namespace["wrapped_key"], namespace["rewrapped"])
    accepted(lesson02.q4, namespace["kms"], "wrapping", namespace["wrapped_key"], namespace["rewrapped"])
    kms = KeyCustodian()
    kms.generate_rsa_pair("w")
    wrapped = kms.encrypt_data_rsa("w", b"k" * 31 + b"!")
    refused(lesson02.q4, kms, "w", wrapped, wrapped, because="rotate it first")
    kms.rotate_key("w")
    copied = kms.encrypt_data_rsa("w", kms.decrypt_data_rsa("w", wrapped, encoding=None))
    refused(lesson02.q4, kms, "w", wrapped, copied, because="left the custodian")
    refused(lesson02.q4, kms, "w", wrapped, wrapped, because="not the newest")
    refused(lesson02.q4, kms, "nope", wrapped, copied, because="pass your custodian")


def test_l02_q3_judges_the_outcome_even_after_the_key_is_revoked() -> None:
    namespace = run_solution(lesson02, lesson02.q3, tamper=tamper)
    kms, token, forged, result = (namespace[name] for name in ("kms", "token", "forged", "result"))
    kms.invalidate_key("legacy", reason="the exercise is over")
    accepted(lesson02.q3, kms, token, forged, result)
    accepted(lesson02.q3, kms, token, forged, result)
    # Rotating and revoking version 1 leaves the token's version unreadable too; still right.
    kms = KeyCustodian()
    kms.generate_rsa_pair("old", padding="pkcs1v15")
    token = kms.encrypt_data_rsa("old", b"another message")
    forged = tamper(token, 100, b"\x80\x01")  # two bytes flipped
    result = kms.decrypt_data_rsa("old", forged, encoding=None)
    kms.rotate_key("old")
    kms.invalidate_key("old", version=1, reason="rotated away")
    accepted(lesson02.q3, kms, token, forged, result)


def test_l02_q3_and_q2_judge_outcomes_not_earlier_refused_attempts() -> None:
    kms = KeyCustodian()
    kms.generate_rsa_pair("modern")  # OAEP: the forgery is refused, as it should be
    modern = kms.encrypt_data_rsa("modern", "x")
    with pytest.raises(DecryptionError):
        kms.decrypt_data_rsa("modern", tamper(modern, 100, 1), encoding=None)
    kms.generate_rsa_pair("legacy", padding="pkcs1v15")
    token = kms.encrypt_data_rsa("legacy", "Classified Information")
    forged = tamper(token, 50, 0x40)
    accepted(lesson02.q3, kms, token, forged, kms.decrypt_data_rsa("legacy", forged, encoding=None))
    bob = KeyCustodian()
    bob.establish_aes_key("cbc-kek", mode="cbc")
    with pytest.raises(KMSError):
        bob.generate_data_key("cbc-kek")  # a KEK must be GCM: refused, nothing drawn
    bob.establish_aes_key("kek")
    key = bob.generate_data_key("kek")
    bob.import_aes_key("report", key.plaintext)
    report = bob.encrypt_data_aes("report", lesson02.REPORT)
    accepted(lesson02.q2, bob, key, encrypt_with_public_key(lesson02.alice_public_pem, key.plaintext), report)


def test_l02_q3_refuses_a_second_genuine_encryption_as_the_forgery() -> None:
    kms = KeyCustodian()
    kms.generate_rsa_pair("legacy", padding="pkcs1v15")
    token = kms.encrypt_data_rsa("legacy", "Classified Information")
    for message in ("Classified Information", "something else"):  # the same message again, and another
        genuine = kms.encrypt_data_rsa("legacy", message)
        refused(
            lesson02.q3,
            kms,
            token,
            genuine,
            kms.decrypt_data_rsa("legacy", genuine, encoding=None),
            because="another encryption",
        )
    refused(lesson02.q3, kms, token, "kms:v1:rsa-pkcs1v15:!!", b"", because="tamper")
    refused(lesson02.q3, kms, "a token", token, b"", because="encrypt_data_rsa")


def test_l02_q4_rewrap_then_revoke_version_1_is_right() -> None:
    namespace = run_solution(lesson02, lesson02.q4, secrets=secrets)
    kms, wrapped, rewrapped = namespace["kms"], namespace["wrapped_key"], namespace["rewrapped"]
    kms.invalidate_key("wrapping", version=1, reason="moved to version 2")
    accepted(lesson02.q4, kms, "wrapping", wrapped, rewrapped)
    accepted(lesson02.q4, kms, "wrapping", wrapped, rewrapped)
    # Another way: two rotations, a data key drawn by a custodian, rewrap to the newest.
    kms = KeyCustodian()
    kms.generate_rsa_pair("transport")
    kms.establish_aes_key("kek")
    data_key = kms.generate_data_key("kek").plaintext
    wrapped = kms.encrypt_data_rsa("transport", data_key)
    kms.rotate_key("transport")
    kms.rotate_key("transport")
    accepted(lesson02.q4, kms, "transport", wrapped, kms.rewrap("transport", wrapped))


def test_l02_q4_refuses_a_non_key_the_same_token_twice_and_a_copy() -> None:
    kms = KeyCustodian()
    kms.generate_rsa_pair("w")
    hello = kms.encrypt_data_rsa("w", "hello")
    text = kms.encrypt_data_rsa("w", "my data key is this secret text!")
    kms.rotate_key("w")
    refused(lesson02.q4, kms, "w", hello, kms.rewrap("w", hello), because="32 random bytes")
    refused(lesson02.q4, kms, "w", text, kms.rewrap("w", text), because="holds text")
    for same in (bytes(32), b"\x01\x02" * 16):
        kms = KeyCustodian()
        kms.generate_rsa_pair("w")
        wrapped = kms.encrypt_data_rsa("w", same)
        kms.rotate_key("w")
        refused(lesson02.q4, kms, "w", wrapped, kms.rewrap("w", wrapped), because="does not look random")
    # The same token twice: a token made after the rotation, and a throwaway rewrap.
    kms = KeyCustodian()
    kms.generate_rsa_pair("w")
    old = kms.encrypt_data_rsa("w", secrets.token_bytes(32))
    kms.rotate_key("w")
    kms.rewrap("w", old)
    new = kms.encrypt_data_rsa("w", secrets.token_bytes(32))
    refused(lesson02.q4, kms, "w", new, new, because="before the rotation")
    # Decrypt and encrypt again, with a throwaway rewrap beside it.
    kms = KeyCustodian()
    kms.generate_rsa_pair("w")
    wrapped = kms.encrypt_data_rsa("w", secrets.token_bytes(32))
    kms.rotate_key("w")
    kms.rewrap("w", wrapped)
    copied = kms.encrypt_data_rsa("w", kms.decrypt_data_rsa("w", wrapped, encoding=None))
    refused(lesson02.q4, kms, "w", wrapped, copied, because="left the custodian")
    # Encrypting the known data key again under the new version is no rewrap either.
    kms = KeyCustodian()
    kms.generate_rsa_pair("w")
    data_key = secrets.token_bytes(32)
    wrapped = kms.encrypt_data_rsa("w", data_key)
    kms.rotate_key("w")
    kms.rewrap("w", wrapped)
    refused(lesson02.q4, kms, "w", wrapped, kms.encrypt_data_rsa("w", data_key), because="encrypt_data_rsa")


def test_l02_q4_wrong_order_refused_and_earlier_failures_forgiven() -> None:
    # Rewrapping before the rotation moves nothing.
    kms = KeyCustodian()
    kms.generate_rsa_pair("w")
    wrapped = kms.encrypt_data_rsa("w", secrets.token_bytes(32))
    early = kms.rewrap("w", wrapped)
    kms.rotate_key("w")
    refused(lesson02.q4, kms, "w", wrapped, early, because="not the newest")
    # A refused rewrap (a broken token) before the right one changes nothing.
    kms = KeyCustodian()
    kms.generate_rsa_pair("w")
    wrapped = kms.encrypt_data_rsa("w", secrets.token_bytes(32))
    kms.rotate_key("w")
    with pytest.raises(DecryptionError):
        kms.rewrap("w", tamper(wrapped, 100, 1)[:-8])
    with pytest.raises(KMSError):
        kms.invalidate_key("w", version=2, reason="the newest cannot go")
    accepted(lesson02.q4, kms, "w", wrapped, kms.rewrap("w", wrapped))


def test_l02_q4_bad_shapes_get_plain_words() -> None:
    kms = KeyCustodian()
    kms.generate_rsa_pair("w")
    wrapped = kms.encrypt_data_rsa("w", secrets.token_bytes(32))
    kms.rotate_key("w")
    rewrapped = kms.rewrap("w", wrapped)
    for answer in ((kms, ["w"], wrapped, rewrapped), (kms, "w", wrapped, "not a token"), (kms, "w", 3, rewrapped)):
        ok, said = verdict(lesson02.q4, *answer)
        assert not ok
        assert "unhashable" not in said, said
        assert "kmslib raised" not in said, said
    kms.close()
    refused(lesson02.q4, kms, "w", wrapped, rewrapped, because="closed")


# ---------------------------------------------------------------- lesson 03


def test_l03_q2_agree_a_key_with_the_partner() -> None:
    namespace = run_solution(lesson03, lesson03.q2)
    kms, mine = namespace["kms"], namespace["my_public"]
    accepted(lesson03.q2, kms, mine)
    accepted(lesson03.q2, kms, mine.pem)  # PEM text is a public key too; checking twice is fine
    refused(lesson03.q2, kms, lesson03.partner_public, because="the partner's public key")
    other = KeyCustodian()
    wrong_private, _ = other.generate_diffie_hellman_params_and_key(group="x25519")
    _, unrelated = other.generate_diffie_hellman_params_and_key(group="x25519")
    other.derive_shared_key("link", wrong_private, lesson03.partner_public)
    refused(lesson03.q2, other, unrelated, because="different keys")
    ff = KeyCustodian()
    _, ff_public = ff.generate_diffie_hellman_params_and_key(group="ffdhe2048")
    refused(lesson03.q2, ff, ff_public, because="no key 'link'")
    ff.establish_aes_key("link")
    refused(lesson03.q2, ff, ff_public, because="refused your public key")


def test_l03_q1_spot_mallory() -> None:
    honest = next(day for day in lesson03.exchanges if day != lesson03._MALLORY_DAY)
    refused(lesson03.q1, honest, because="is honest")
    refused(lesson03.q1, "sunday", because="one of")
    namespace = run_solution(lesson03, lesson03.q1)
    assert namespace["mallory_day"] == lesson03._MALLORY_DAY


def test_l03_q3_which_peer_keys_are_refused() -> None:
    namespace = run_solution(lesson03, lesson03.q3, InvalidPeerKeyError=InvalidPeerKeyError)
    assert sorted(namespace["rejected"]) == [1, 2, 3, 4]
    refused(lesson03.q3, [1, 2], because="2 of the traps are missing")
    refused(lesson03.q3, [0, 1, 2, 3, 4], because="a valid key")
    refused(lesson03.q3, "1234", because="indices")
    accepted(lesson03.q3, (4, 3, 2, 1))


def test_l03_q4_mallory_in_the_middle() -> None:
    namespace = run_solution(lesson03, lesson03.q4)
    mallory, for_alice, for_bob = namespace["mallory"], namespace["for_alice"], namespace["for_bob"]
    accepted(lesson03.q4, mallory, for_alice, for_bob)
    refused(lesson03.q4, mallory, for_bob, for_alice, because="is not Mallory's 'to-alice'")
    refused(lesson03.q4, KeyCustodian(), for_alice, for_bob, because="no key 'to-alice'")


# ---------------------------------------------------------------- lesson 07


def test_l07_solutions_and_wrong_answers() -> None:
    from kmslib import SignatureError, verify_signature
    from kmslib.widgets import DHExchangeForm

    namespace = run_solution(lesson07, lesson07.q1)
    kms = namespace["my_kms"]
    accepted(lesson07.q1, kms, namespace["message"], namespace["signature"])
    refused(lesson07.q1, kms, "another message", namespace["signature"], because="none of your signing keys")
    kms.generate_signing_key("ec", algorithm="ecdsa-p256-sha256")
    refused(lesson07.q1, kms, "m", kms.sign("ec", "m"), because="Ed25519")
    namespace = run_solution(lesson07, lesson07.q2, verify_signature=verify_signature, SignatureError=SignatureError)
    assert sorted(namespace["genuine"]) == [0, 3]
    refused(lesson07.q2, [0, 2, 3], because="of another document")
    refused(lesson07.q2, [0, 1, 3], because="not the published one")
    refused(lesson07.q2, [0], because="missing")
    namespace = run_solution(lesson07, lesson07.q3)
    auditing = namespace["auditing"]
    checkpoint = auditing.sign_audit_checkpoint("auditor")
    short = auditing.audit_log.to_jsonl()
    pem = auditing.export_public_key("auditor")
    refused(lesson07.q3, checkpoint, short, pem, because="let the log grow")
    refused(lesson07.q3, checkpoint, short, kms.export_public_key("ec"), because="does not verify")
    namespace = run_solution(lesson07, lesson07.q4, DHExchangeForm=DHExchangeForm)
    accepted(lesson07.q4, namespace["form"])
    unsigned = DHExchangeForm()
    unsigned.mallory_switch.value = True
    unsigned.run_all()
    refused(lesson07.q4, unsigned, because="switch both on")
    refused(lesson07.q4, "form", because="pass the DHExchangeForm")
    late = DHExchangeForm()
    late.sign_switch.value = True
    late.generate()
    late.exchange()
    late.mallory_switch.value = True
    refused(lesson07.q4, late, because="before step 2")
    kem = DHExchangeForm()  # the hybrid: Bob made a key with his reply, and revokes it when the exchange stops
    kem.group.value = "x25519mlkem768"
    kem.sign_switch.value = True
    kem.mallory_switch.value = True
    kem.generate()
    kem.exchange()
    kem.derive()
    accepted(lesson07.q4, kem)


@pytest.mark.parametrize("group", ["x25519", "ffdhe2048", "x25519mlkem768"])
def test_l07_q4_the_exchange_must_have_been_stopped_at_step_3(group: str) -> None:
    from kmslib.widgets import DHExchangeForm

    skipped = DHExchangeForm()  # generated and exchanged with Mallory on the wire, but never tried to derive
    skipped.group.value = group
    skipped.sign_switch.value = True
    skipped.mallory_switch.value = True
    skipped.generate()
    skipped.exchange()
    refused(lesson07.q4, skipped, because="step 3")
    refused(lesson07.q4, skipped, because="step 3")  # the same verdict again
    skipped.derive()
    accepted(lesson07.q4, skipped)
    accepted(lesson07.q4, skipped)
    skipped.generate()  # starting over forgets the earlier stop
    skipped.exchange()
    refused(lesson07.q4, skipped, because="step 3")


def test_l07_signature_sizes_are_measured() -> None:
    from kmslib.course import pictures

    ax = pictures.signature_sizes().axes[0]
    heights = [int(bar.get_height()) for bar in ax.patches]
    public, signatures = heights[:4], heights[4:]
    assert public == [44, 91, 294, 1974]  # SubjectPublicKeyInfo DER of Ed25519, P-256, RSA-2048 and ML-DSA-65
    assert signatures[0] == 64
    assert 70 <= signatures[1] <= 72  # ECDSA's DER signature varies by a byte or two
    assert signatures[2:] == [256, 3309]
    assert ax.get_yscale() == "log"


def test_l03_hybrid_exercises() -> None:
    namespace = run_solution(lesson03, lesson03.q5)
    accepted(lesson03.q5, namespace["kms"], namespace["reply"])
    accepted(lesson03.q5, namespace["kms"], namespace["reply"].printable)  # twice, and the printable form
    other = KeyCustodian()
    _, someone = other.generate_diffie_hellman_params_and_key(group="x25519mlkem768")
    wrong = KeyCustodian()
    stray = wrong.accept_key_exchange("link", someone)  # a reply to another initiator
    refused(lesson03.q5, wrong, stray, because="different keys")
    refused(lesson03.q5, KeyCustodian(), stray, because="no key 'link'")
    refused(lesson03.q5, wrong, b"short", because="could not finish the exchange")
    run_solution(lesson03, lesson03.q6)
    accepted(lesson03.q6, 1216, 1120)
    refused(lesson03.q6, 1120, 1216, because="the other way round")
    refused(lesson03.q6, 32, 1120, because="encapsulation key (1184 bytes)")
    refused(lesson03.q6, 1216, 1088, because="ciphertext (1088 bytes)")
    refused(lesson03.q6, "1216", 1120, because="two numbers")


def test_key_exchange_sizes_picture() -> None:
    from kmslib.course import pictures

    ax = pictures.key_exchange_sizes().axes[0]
    assert [int(bar.get_height()) for bar in ax.patches] == [256, 32, 1216, 256, 32, 1120]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["ffdhe2048", "X25519", "X25519MLKEM768"]


def test_l07_post_quantum_checkpoint_and_signing_times() -> None:
    from kmslib.course import pictures

    namespace = run_solution(lesson07, lesson07.q5)
    pq = namespace["pq"]
    assert pq.key_info("auditor").algorithm == "ml-dsa-65"
    classic = run_solution(lesson07, lesson07.q3)["auditing"]
    checkpoint = classic.sign_audit_checkpoint("auditor")
    classic.encrypt_data_aes("data", "more")
    classic.encrypt_data_aes("data", "and more")
    classic.encrypt_data_aes("data", "and yet more")
    answer = (checkpoint, classic.audit_log.to_jsonl(), classic.export_public_key("auditor"))
    refused(lesson07.q5, *answer, because="sign it with an ml-dsa-65 key")
    accepted(lesson07.q3, *answer)
    times = pictures.signing_times(runs=3)
    assert list(times) == ["ed25519", "ecdsa-p256-sha256", "rsa-pss-sha256", "ml-dsa-65"]
    assert all(sign > 0 and verify > 0 for sign, verify in times.values())
    ax = pictures.plot_signing_times(times).axes[0]
    assert [tick.get_text() for tick in ax.get_xticklabels()][-1] == "ML-DSA-65"
    assert ax.patches[0].get_height() == pytest.approx(times["ed25519"][0] * 1e6)


def test_signing_table_lists_sizes_and_times() -> None:
    from kmslib.course import pictures

    table = pictures.signing_table({"ed25519": (2e-05, 7e-05), "ml-dsa-65": (0.0007, 0.00014)}).splitlines()
    assert table[0].split() == ["algorithm", "private", "key", "public", "key", "signature", "sign", "verify"]
    assert table[1].split() == ["ed25519", "48", "B", "44", "B", "64", "B", "0.000020", "s", "0.000070", "s"]
    assert table[2].split()[:8] == ["ml-dsa-65", "54", "B", "seed", "1974", "B", "3309", "B"]
    assert "expanded private key it signs with is 4032 B (FIPS 204)" in table[3]


# ---------------------------------------------------------------- lessons 03 and 07: checkers that judge (issue 23)


@pytest.mark.parametrize(
    "exercise",
    [lesson03.__dict__[f"q{n}"] for n in range(1, 7)] + [lesson07.__dict__[f"q{n}"] for n in range(1, 7)],
    ids=[f"l03-q{n}" for n in range(1, 7)] + [f"l06-q{n}" for n in range(1, 7)],
)
def test_l03_l06_odd_shapes_and_counts_get_plain_words(exercise: exercises.Exercise) -> None:
    test_odd_shapes_and_counts_get_plain_words_not_python_internals(exercise)


def test_l03_q1_other_answers() -> None:
    namespace = run_solution(lesson03, lesson03.q1)
    accepted(lesson03.q1, namespace["mallory_day"])
    accepted(lesson03.q1, lesson03._MALLORY_DAY.upper())  # as typed by a student
    accepted(lesson03.q1, f" {lesson03._MALLORY_DAY} ")
    refused(lesson03.q1, list(lesson03.exchanges), because="one of")  # both days at once
    refused(lesson03.q1, [lesson03._MALLORY_DAY], because="one of")
    refused(lesson03.q1, "both", because="one of")


def test_l03_q2_takes_every_form_of_public_key_derive_shared_key_takes() -> None:
    namespace = run_solution(lesson03, lesson03.q2)
    kms, mine = namespace["kms"], namespace["my_public"]
    assert verdict(lesson03.q2, kms, mine)[0]
    accepted(lesson03.q2, kms, mine.pem.encode())  # PEM bytes
    accepted(lesson03.q2, kms, mine.cryptography_key)  # the pyca object
    ok, said = verdict(lesson03.q2, kms, mine.pem)
    assert ok, said


def test_l03_q2_wrong_answers() -> None:
    kms = KeyCustodian()
    private, public = kms.generate_diffie_hellman_params_and_key(group="x25519")
    kms.derive_shared_key("link", private, lesson03.partner_public, mode="cbc")
    refused(lesson03.q2, kms, public, because="AES-256-GCM")  # a CBC key: the wrong kind, not a crash
    refused(lesson03.q2, kms, public.pem.encode()[:60], because="should be a public key")  # cut short
    refused(lesson03.q2, kms, private, because="should be a public key")
    refused(lesson03.q2, kms, public.fingerprint, because="should be a public key")
    refused(lesson03.q2, kms, [public], because="should be a public key")
    again = KeyCustodian()  # a refused attempt first, then the right key: judged by the outcome
    mine, my_public = again.generate_diffie_hellman_params_and_key(group="x25519")
    with pytest.raises(KMSError):
        again.derive_shared_key("link", mine, dh_public_of_other_group())
    again.derive_shared_key("link", mine, lesson03.partner_public.pem)
    accepted(lesson03.q2, again, my_public)
    for _ in range(2):  # checking again gives the same verdict
        accepted(lesson03.q2, again, my_public)


def dh_public_of_other_group() -> object:
    return KeyCustodian().generate_diffie_hellman_params_and_key(group="ffdhe2048")[1]


def test_l03_q3_other_answers_and_near_misses() -> None:
    accepted(lesson03.q3, {1, 2, 3, 4})
    accepted(lesson03.q3, [4, 3, 2, 1])
    refused(lesson03.q3, [1, 2, 3, 4, 9], because="there are candidates 0 to 5")
    refused(lesson03.q3, [1, 1, 2, 2], because="2 of the traps are missing")
    refused(lesson03.q3, [1, 2, 3], because="1 of the traps are missing")
    refused(lesson03.q3, list(lesson03.candidates), because="indices")  # the keys themselves


def test_l03_q4_one_key_pair_for_both_victims_is_not_mallory() -> None:
    mallory = KeyCustodian()
    private, public = mallory.generate_diffie_hellman_params_and_key(group="x25519")
    mallory.derive_shared_key("to-alice", private, lesson03.alice_public)
    mallory.derive_shared_key("to-bob", private, lesson03.bob_public)
    refused(lesson03.q4, mallory, public, public, because="its own key pair")
    refused(lesson03.q4, mallory, public, public.pem, because="its own key pair")


def test_l03_q4_other_answers() -> None:
    mallory = KeyCustodian()
    to_bob_private, to_bob = mallory.generate_diffie_hellman_params_and_key(group="x25519")  # Bob's first
    to_alice_private, to_alice = mallory.generate_diffie_hellman_params_and_key(group="x25519")
    mallory.derive_shared_key("to-bob", to_bob_private, lesson03.bob_public.pem)
    mallory.derive_shared_key("to-alice", to_alice_private, lesson03.alice_public)
    accepted(lesson03.q4, mallory, to_alice.pem, to_bob.pem)
    accepted(lesson03.q4, mallory, to_alice.cryptography_key, to_bob.pem.encode())
    accepted(lesson03.q4, mallory, to_alice, to_bob)  # again: the same verdict
    throwaway = KeyCustodian()  # key pairs made, but not the ones used for the keys
    for key_id, victim in (("to-alice", lesson03.alice_public), ("to-bob", lesson03.bob_public)):
        private, _ = throwaway.generate_diffie_hellman_params_and_key(group="x25519")
        throwaway.derive_shared_key(key_id, private, victim)
    _, stray_1 = throwaway.generate_diffie_hellman_params_and_key(group="x25519")
    _, stray_2 = throwaway.generate_diffie_hellman_params_and_key(group="x25519")
    refused(lesson03.q4, throwaway, stray_1, stray_2, because="is not Mallory's 'to-alice'")
    refused(lesson03.q4, mallory, lesson03.alice_public, lesson03.bob_public, because="is not Mallory's 'to-alice'")
    refused(lesson03.q4, mallory, "to-alice", "to-bob", because="should be a public key")


def test_l03_q5_refuses_a_cbc_key_and_takes_the_raw_reply() -> None:
    cbc = KeyCustodian()
    reply = cbc.accept_key_exchange("link", lesson03.hybrid_partner_public, mode="cbc")
    refused(lesson03.q5, cbc, reply, because="AES-256-GCM")
    right = KeyCustodian()
    with pytest.raises(KMSError):  # a refused attempt first
        right.accept_key_exchange("link", b"not a key")
    reply = right.accept_key_exchange("link", lesson03.hybrid_partner_public.printable)
    accepted(lesson03.q5, right, reply.raw)
    accepted(lesson03.q5, right, reply)
    refused(lesson03.q5, right, lesson03.hybrid_partner_public, because="could not finish the exchange")


def test_l03_q6_other_answers() -> None:
    accepted(lesson03.q6, 1184 + 32, 1088 + 32)
    refused(lesson03.q6, 1216, 1216, because="ciphertext (1088 bytes)")
    refused(lesson03.q6, 1184, 1088, because="encapsulation key (1184 bytes)")
    refused(lesson03.q6, True, 1120, because="two numbers")


def test_l03_quiz_distractors_and_no_ruling_out() -> None:
    q4 = lesson03.quiz.questions[3]
    assert "rule out" not in q4.prompt
    assert all("rule" not in choice or letter != q4.answer for letter, choice in q4.choices.items())
    assert "collide" in q4.choices[q4.answer]
    weak = {"To make it longer", "HKDF encrypts it", "every even number", "Nothing"}
    for question in lesson03.quiz.questions:
        assert not weak & set(question.choices.values()), question.prompt
    for number, question in enumerate(lesson03.quiz.questions, 1):
        assert lesson03.quiz.answer(number, question.answer)
        assert all(not lesson03.quiz.answer(number, c) for c in question.choices if c != question.answer)


def test_l07_q1_other_answers_and_lazy_ones() -> None:
    kms = KeyCustodian()
    with pytest.raises(KMSError):  # a refused attempt first
        kms.sign("me", "hello")
    kms.generate_signing_key("other", algorithm="ecdsa-p256-sha256")
    kms.generate_signing_key("me")
    accepted(lesson07.q1, kms, b"bytes too", kms.sign("me", b"bytes too"))
    accepted(lesson07.q1, kms, "text", kms.sign("me", "text"))
    stranger = KeyCustodian()
    stranger.generate_signing_key("me")
    refused(lesson07.q1, kms, "text", stranger.sign("me", "text"), because="none of your signing keys")
    signature = kms.sign("me", "text")
    refused(lesson07.q1, kms, signature, signature, because="none of your signing keys")  # the same value twice
    refused(lesson07.q1, kms, "text", "kms:v1:ed25519:AAAA", because="none of your signing keys")  # a shape only
    kms.invalidate_key("me", reason="a test of a revoked key")
    refused(lesson07.q1, kms, "text", signature, because="none of your signing keys")


def test_l07_q2_other_answers() -> None:
    accepted(lesson07.q2, (3, 0))
    accepted(lesson07.q2, {0, 3})
    refused(lesson07.q2, [0, 0], because="missing")
    refused(lesson07.q2, [0, 1, 2, 3], because="of another document")
    refused(lesson07.q2, [document for document, _ in lesson07.documents], because="indices")


def _checkpoint_after(kms: KeyCustodian, key_id: str, more: int = 3) -> tuple[str, str, str]:
    checkpoint = kms.sign_audit_checkpoint(key_id)
    for n in range(more):
        kms.encrypt_data_aes("data", f"later {n}")
    return checkpoint, kms.audit_log.to_jsonl(), kms.export_public_key(key_id)


def test_l07_q3_needs_operations_before_the_checkpoint() -> None:
    empty = KeyCustodian()
    empty.generate_signing_key("auditor")
    checkpoint = empty.sign_audit_checkpoint("auditor")
    empty.establish_aes_key("data")
    for n in range(3):
        empty.encrypt_data_aes("data", f"later {n}")
    answer = (checkpoint, empty.audit_log.to_jsonl(), empty.export_public_key("auditor"))
    refused(lesson07.q3, *answer, because="before the checkpoint")
    exported = (
        KeyCustodian()
    )  # exporting the public key, or a failed attempt, is no operation the checkpoint vouches for
    exported.generate_signing_key("auditor")
    exported.export_public_key("auditor")
    with pytest.raises(KMSError):
        exported.encrypt_data_aes("data", "before")
    checkpoint = exported.sign_audit_checkpoint("auditor")
    exported.establish_aes_key("data")
    for n in range(3):
        exported.encrypt_data_aes("data", f"later {n}")
    answer = (checkpoint, exported.audit_log.to_jsonl(), exported.export_public_key("auditor"))
    refused(lesson07.q3, *answer, because="before the checkpoint")


def _lesson07_example() -> KeyCustodian:
    """The lesson's own signing example, run as the notebook runs it (cells cc56ae29, ae42e652 and 843c7e27)."""
    import contextlib
    import io
    import json

    notebook = json.loads((ROOT / "notebooks" / "07_signatures_and_trust.ipynb").read_text(encoding="utf-8"))
    cells = {cell.get("id"): "".join(cell["source"]) for cell in notebook["cells"]}
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell_id in ("cc56ae29", "ae42e652", "843c7e27"):
            exec(cells[cell_id], namespace)
    kms: KeyCustodian = namespace["kms"]
    return kms


def test_l07_q3_refuses_the_lessons_own_example() -> None:
    kms = _lesson07_example()
    kms.establish_aes_key("data")
    refused(lesson07.q3, *_checkpoint_after(kms, "release"), because="the lesson's own")
    later = kms.sign_audit_checkpoint("release")  # a new checkpoint in the lesson's custodian is still its example
    for n in range(3):
        kms.encrypt_data_aes("data", f"and more {n}")
    refused(lesson07.q3, later, kms.audit_log.to_jsonl(), kms.export_public_key("release"), because="the lesson's own")


def test_l07_q3_other_answers_and_lazy_ones() -> None:
    rsa = KeyCustodian()
    with pytest.raises(KMSError):
        rsa.sign_audit_checkpoint("auditor")  # a refused attempt first: no key yet
    rsa.generate_signing_key("auditor", algorithm="rsa-pss-sha256")
    rsa.establish_aes_key("data")
    rsa.sign("auditor", "a release")
    answer = _checkpoint_after(rsa, "auditor")
    accepted(lesson07.q3, *answer)
    accepted(lesson07.q3, *answer)  # again: the same verdict
    ec = KeyCustodian()
    ec.generate_signing_key("auditor", algorithm="ecdsa-p256-sha256")
    ec.establish_aes_key("data")
    ec.encrypt_data_aes("data", "before")
    checkpoint, export, pem = _checkpoint_after(ec, "auditor", more=5)
    accepted(lesson07.q3, checkpoint, export, pem)
    refused(lesson07.q3, checkpoint, export, answer[2], because="does not verify")  # another custodian's key
    refused(lesson07.q3, checkpoint, answer[1], pem, because="does not verify")  # another custodian's log
    refused(lesson07.q3, checkpoint, checkpoint, checkpoint, because="does not verify")  # the same value thrice
    refused(lesson07.q3, "kmslib-checkpoint:v1:3:ab:cd", export, pem, because="does not verify")


def test_l07_q4_judges_the_exchange_not_the_text_in_the_form() -> None:
    from kmslib.widgets import DHExchangeForm

    typed = DHExchangeForm()  # signing switched on too late: Bob signed nothing; the verdict box typed by hand
    typed.mallory_switch.value = True
    typed.generate()
    typed.exchange()
    typed.sign_switch.value = True
    typed.match.value = "The exchange stops"
    refused(lesson07.q4, typed, because="before step 1")
    honest = DHExchangeForm()  # signing on, no Mallory: keys derived; then Mallory switched on and text typed
    honest.sign_switch.value = True
    honest.generate()
    honest.exchange()
    honest.derive()
    honest.mallory_switch.value = True
    honest.match.value = "The exchange stops"
    refused(lesson07.q4, honest, because="Mallory must be on the wire")


def test_l07_q4_other_answers() -> None:
    from kmslib.widgets import DHExchangeForm

    form = DHExchangeForm()  # the buttons' methods, with the text cleared afterwards: the state is what counts
    form.sign_switch.value = True
    form.mallory_switch.value = True
    form.generate()
    form.exchange()
    form.mallory_switch.value = False  # she may leave after the exchange: the keys were already swapped
    form.derive()
    form.match.value = ""
    accepted(lesson07.q4, form)
    accepted(lesson07.q4, form)
    ff = DHExchangeForm()
    ff.group.value = "ffdhe2048"
    ff.sign_switch.value = True
    ff.mallory_switch.value = True
    ff.run_all()
    accepted(lesson07.q4, ff)


def test_l07_q6_the_broken_signer_reuses_one_nonce_and_its_signatures_verify() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    public = serialization.load_pem_public_key(lesson07.reused_nonce_public_key.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    (m1, s1), (m2, s2) = lesson07.reused_nonce_signatures
    assert m1 != m2
    for message, signature in lesson07.reused_nonce_signatures:
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))  # genuine ECDSA signatures
    assert decode_dss_signature(s1)[0] == decode_dss_signature(s2)[0]  # the same r: the same k


def test_l07_q6_recover_the_key_from_a_reused_nonce() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    namespace = run_solution(lesson07, lesson07.q6)
    d = namespace["d"]
    accepted(lesson07.q6, d)
    accepted(lesson07.q6, d)  # again: the same verdict
    key = ec.derive_private_key(d, ec.SECP256R1())
    accepted(lesson07.q6, key)  # the pyca private key
    new = b"I, the student, hold the release key now."
    accepted(lesson07.q6, (new, key.sign(new, ec.ECDSA(hashes.SHA256()))))  # a new message, signed with it


def test_l07_q6_wrong_answers() -> None:
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    n = lesson07.P256_ORDER
    (m1, sig1), (m2, sig2) = lesson07.reused_nonce_signatures
    (r, s1), (_, s2) = decode_dss_signature(sig1), decode_dss_signature(sig2)
    z1, z2 = (int.from_bytes(hashlib.sha256(m).digest(), "big") for m in (m1, m2))
    k = (z1 - z2) * pow(s1 - s2, -1, n) % n
    d = (s1 * k - z1) * pow(r, -1, n) % n
    refused(lesson07.q6, k, because="the nonce k")  # stopped halfway
    wrong_order = (z1 - z2) * pow(s2 - s1, -1, n) % n  # the differences taken in opposite orders
    refused(lesson07.q6, (s1 * wrong_order - z1) * pow(r, -1, n) % n, because="not the private key")
    refused(lesson07.q6, (s1 * k - z2) * pow(r, -1, n) % n, because="not the private key")  # z of the other message
    refused(lesson07.q6, r, because="not the private key")
    refused(lesson07.q6, d + n, because="between 1 and n - 1")
    refused(lesson07.q6, -d, because="between 1 and n - 1")
    refused(lesson07.q6, str(d), because="an int")
    refused(lesson07.q6, True, because="an int")
    throwaway = ec.generate_private_key(ec.SECP256R1())
    refused(lesson07.q6, throwaway, because="not the private key")
    new = b"a new message"
    refused(lesson07.q6, (new, throwaway.sign(new, ec.ECDSA(hashes.SHA256()))), because="does not verify")
    refused(lesson07.q6, (m1, sig1), because="a new message")  # the given signature, replayed
    refused(lesson07.q6, (new, sig1), because="does not verify")
    refused(lesson07.q6, (new, "not bytes"), because="(message, signature)")
    refused(lesson07.q6, (new,), because="(message, signature)")
    refused(lesson07.q6, ec.derive_private_key(d, ec.SECP384R1()), because="not the private key")
    accepted(lesson07.q6, d)  # the failures above change nothing


def test_l07_quiz_distractors_a_thinking_student_could_choose() -> None:
    weak = {
        "The message was kept secret",
        "The signatures are slightly weaker",
        "Nothing",
        "Only changes to the last entry",
    }
    for number, question in enumerate(lesson07.quiz.questions, 1):
        assert not weak & set(question.choices.values()), question.prompt
        assert lesson07.quiz.answer(number, question.answer)
        assert all(not lesson07.quiz.answer(number, c) for c in question.choices if c != question.answer)


def test_l07_text_says_true_things_about_ml_dsa_and_ecdsa_nonces() -> None:
    import json

    notebook = json.loads((ROOT / "notebooks" / "07_signatures_and_trust.ipynb").read_text(encoding="utf-8"))
    markdown = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    assert "speed is comparable" not in markdown
    assert "RSA-PSS has the largest signatures" not in markdown
    assert "4032" in markdown  # ML-DSA-65's expanded private key (FIPS 204); the table's 54 B is the seed's PKCS#8
    for source in ("Howgrave-Graham", "Minerva", "RFC 6979"):
        assert source in markdown, source
    assert "Four exercises" not in markdown
    codes = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert any("q6.check(" in "".join(c["source"]) for c in codes)
    assert any("____" in "".join(c["source"]) and "reused_nonce_signatures" in "".join(c["source"]) for c in codes)
    new = [c for c in codes if "q6.check(" in "".join(c["source"]) or "d = ____" in "".join(c["source"])]
    assert len(new) == 2
    assert all(c.get("id") for c in new)


def test_l03_l06_every_published_solution_passes() -> None:
    from kmslib import SignatureError, verify_signature
    from kmslib.widgets import DHExchangeForm

    answers: list[tuple[exercises.Exercise, tuple[object, ...]]] = []
    ns = run_solution(lesson03, lesson03.q1)
    answers.append((lesson03.q1, (ns["mallory_day"],)))
    ns = run_solution(lesson03, lesson03.q2)
    answers.append((lesson03.q2, (ns["kms"], ns["my_public"])))
    ns = run_solution(lesson03, lesson03.q3, InvalidPeerKeyError=InvalidPeerKeyError)
    answers.append((lesson03.q3, (ns["rejected"],)))
    ns = run_solution(lesson03, lesson03.q4)
    answers.append((lesson03.q4, (ns["mallory"], ns["for_alice"], ns["for_bob"])))
    ns = run_solution(lesson03, lesson03.q5)
    answers.append((lesson03.q5, (ns["kms"], ns["reply"])))
    ns = run_solution(lesson03, lesson03.q6)
    answers.append((lesson03.q6, (len(ns["public"].raw), len(ns["reply"].raw))))
    ns = run_solution(lesson07, lesson07.q1)
    answers.append((lesson07.q1, (ns["my_kms"], ns["message"], ns["signature"])))
    ns = run_solution(lesson07, lesson07.q2, verify_signature=verify_signature, SignatureError=SignatureError)
    answers.append((lesson07.q2, (ns["genuine"],)))
    ns = run_solution(lesson07, lesson07.q3)
    auditing = ns["auditing"]
    pem = auditing.export_public_key("auditor")
    answers.append((lesson07.q3, (ns["checkpoint"], auditing.audit_log.to_jsonl(), pem)))
    ns = run_solution(lesson07, lesson07.q4, DHExchangeForm=DHExchangeForm)
    answers.append((lesson07.q4, (ns["form"],)))
    ns = run_solution(lesson07, lesson07.q5)
    pq = ns["pq"]
    answers.append((lesson07.q5, (ns["checkpoint"], pq.audit_log.to_jsonl(), pq.export_public_key("auditor"))))
    ns = run_solution(lesson07, lesson07.q6)
    answers.append((lesson07.q6, (ns["d"],)))
    for exercise, answer in answers:
        ok, said = verdict(exercise, *answer)
        assert ok, (exercise.number, said)


def test_l03_q4_closed_mallory_and_earlier_failures() -> None:
    mallory = KeyCustodian()
    for_alice_private, for_alice = mallory.generate_diffie_hellman_params_and_key(group="x25519")
    for_bob_private, for_bob = mallory.generate_diffie_hellman_params_and_key(group="x25519")
    with pytest.raises(KMSError):  # a wrong try first: the bad peer key leaves no key behind
        mallory.derive_shared_key("to-alice", for_alice_private, dh_public_of_other_group())
    mallory.derive_shared_key("to-alice", for_alice_private, lesson03.alice_public)
    mallory.derive_shared_key("to-bob", for_bob_private, lesson03.bob_public)
    accepted(lesson03.q4, mallory, for_alice, for_bob)
    mallory.close()
    refused(lesson03.q4, mallory, for_alice, for_bob, because="closed")


def test_l07_q4_a_step_tried_too_early_is_forgiven() -> None:
    from kmslib.widgets import DHExchangeForm

    form = DHExchangeForm()
    form.sign_switch.value = True
    form.mallory_switch.value = True
    form.generate()
    assert form.derive() is None  # too early: nothing was exchanged yet
    form.exchange()
    form.derive()
    accepted(lesson07.q4, form)


def test_l07_q5_other_answers_and_lazy_ones() -> None:
    pq = KeyCustodian()
    pq.generate_signing_key("auditor", algorithm="ml-dsa-65")
    pq.establish_aes_key("data")
    pq.sign("auditor", "release 1.0")
    answer = _checkpoint_after(pq, "auditor")
    accepted(lesson07.q5, *answer)
    pq.encrypt_data_aes("data", "still more")  # a later export still extends the checkpoint
    accepted(lesson07.q5, answer[0], pq.audit_log.to_jsonl(), answer[2])
    other = KeyCustodian()
    other.generate_signing_key("pq", algorithm="ml-dsa-65")
    other.generate_signing_key("ed")
    other.establish_aes_key("data")
    other.encrypt_data_aes("data", "before")
    accepted(lesson07.q5, *_checkpoint_after(other, "pq", more=4))
    refused(lesson07.q5, *_checkpoint_after(other, "ed"), because="sign it with an ml-dsa-65 key")
    bare = KeyCustodian()
    bare.generate_signing_key("auditor", algorithm="ml-dsa-65")
    checkpoint = bare.sign_audit_checkpoint("auditor")  # right after making the key: it vouches for nothing
    bare.establish_aes_key("data")
    early = bare.audit_log.to_jsonl()  # exported before the log grew
    pem = bare.export_public_key("auditor")
    refused(lesson07.q5, checkpoint, early, pem, because="before the checkpoint")
    again = KeyCustodian()
    again.generate_signing_key("auditor", algorithm="ml-dsa-65")
    again.establish_aes_key("data")
    checkpoint = again.sign_audit_checkpoint("auditor")
    refused(lesson07.q5, checkpoint, again.audit_log.to_jsonl(), again.export_public_key("auditor"), because="grow")
    refused(lesson07.q5, answer[0], answer[0], answer[0], because="does not verify")  # the same value thrice


def test_l02_q3_an_always_equal_bytes_subclass_is_not_a_result() -> None:
    class AlwaysEqual(bytes):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = bytes.__hash__

    kms = KeyCustodian()
    kms.generate_rsa_pair("legacy", padding="pkcs1v15")
    token = kms.encrypt_data_rsa("legacy", "Classified")
    forged = tamper(token, 100, 0x01)
    assert not lesson02.q3.check(kms, token, forged, AlwaysEqual(b"anything"))
    assert lesson02.q3.check(kms, token, forged, kms.decrypt_data_rsa("legacy", forged, encoding=None))
