"""Lesson 07 (sealed storage): the exercises refuse the plausible wrong answers, the solutions pass, and the demos."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_lessons import accepted, refused

import kmslib
from kmslib import KeyCustodian, StoreError, UnsealError
from kmslib.course import ____, lesson07, pictures


def run(exercise: Any, **names: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {
        **{name: getattr(lesson07, name) for name in lesson07.__all__},
        "kmslib": kmslib,
        "KeyCustodian": KeyCustodian,
        "StoreError": StoreError,
        **names,
    }
    exec(exercise.solution_code, namespace)
    return namespace


def test_every_solution_passes_in_order_and_checks_can_be_rerun(tmp_path: Path) -> None:
    names = run(lesson07.q1, folder=tmp_path)
    path, shares = names["path"], names["shares"]
    accepted(lesson07.q1, path, shares)
    names = run(lesson07.q2, path=path, shares=shares)
    accepted(lesson07.q2, path, shares, names["token"])
    accepted(lesson07.q2, path, shares, names["token"])  # again: checking changes nothing that matters
    names = run(lesson07.q3, path=path, shares=shares, folder=tmp_path)
    accepted(lesson07.q3, names["copy"], names["error"])
    names = run(lesson07.q4, path=path, shares=shares)
    accepted(lesson07.q4, path, shares, names["new_shares"])
    accepted(lesson07.q4, path, shares, names["new_shares"])


def test_q1_refuses_a_passphrase_store_the_wrong_threshold_and_an_open_store(tmp_path: Path) -> None:
    refused(lesson07.q1, ____, [], because="replace the blank")
    refused(lesson07.q1, tmp_path / "missing.db", [], because="no file")
    by_passphrase = tmp_path / "pass.db"
    kmslib.init_store(by_passphrase, passphrase="x")
    refused(lesson07.q1, by_passphrase, [], because="passphrase store")
    two = tmp_path / "two.db"
    shares = kmslib.init_store(two, shares=5, threshold=2)
    refused(lesson07.q1, two, shares, because="any 2 of your shares")
    four = tmp_path / "four.db"
    refused(lesson07.q1, four, kmslib.init_store(four, shares=4, threshold=3), because="4 distinct shares")
    right = tmp_path / "right.db"
    shares = kmslib.init_store(right, shares=5, threshold=3)
    refused(lesson07.q1, right, shares[0], because="list of shares")
    refused(
        lesson07.q1,
        right,
        kmslib.init_store(tmp_path / "other.db", shares=5, threshold=3),
        because="do not unseal this store",
    )
    with KeyCustodian.open(right, shares=shares[:3]):
        refused(lesson07.q1, right, shares, because="close your custodian")
    accepted(lesson07.q1, str(right), tuple(shares))  # a str path and a tuple are fine too


def test_q2_refuses_another_key_another_text_and_no_key(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("other")
        other_token = kms.encrypt_data_aes("other", lesson07.PAYROLL)
    refused(lesson07.q2, path, shares, other_token, because="no key 'payroll'")
    with KeyCustodian.open(path, shares=shares[1:4]) as kms:
        kms.establish_aes_key("payroll")
        wrong_text = kms.encrypt_data_aes("payroll", "something else")
        right = kms.encrypt_data_aes("payroll", lesson07.PAYROLL)
    refused(lesson07.q2, path, shares, other_token, because="does not decrypt with 'payroll'")
    refused(lesson07.q2, path, shares, wrong_text, because="encrypt PAYROLL")
    refused(lesson07.q2, path, shares, b"bytes", because="text token")
    refused(lesson07.q2, path, shares[:2], right, because="do not open it")
    accepted(lesson07.q2, path, shares[2:], right)  # any three shares


def test_q3_refuses_an_unseal_error_and_another_tampering(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("payroll")
        kms.establish_aes_key("reports")
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    with pytest.raises(UnsealError) as unseal:
        KeyCustodian.open(copy, shares=shares[:2])
    refused(lesson07.q3, copy, unseal.value, because="UnsealError")
    refused(lesson07.q3, copy, ValueError("x"), because="StoreError")
    db = sqlite3.connect(copy)
    db.execute("UPDATE keys SET state = 'revoked' WHERE key_id = 'payroll'")  # another tampering
    db.commit()
    db.close()
    with pytest.raises(StoreError) as other:
        KeyCustodian.open(copy, shares=shares[:3])
    refused(lesson07.q3, copy, other.value, because="another reason")


def test_q4_refuses_the_old_shares_still_working_and_a_wrong_set(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("payroll")
    unrelated = kmslib.init_store(tmp_path / "x.db", shares=4, threshold=3)
    refused(lesson07.q4, path, shares, unrelated, because="do not open it")
    refused(lesson07.q4, path, shares, shares[:4], because="whole new set")  # 4 old shares are not a new set
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        five = kms.rekey(shares[:3], shares=5, threshold=3)
    refused(lesson07.q4, path, shares, five, because="4, any 3")
    with KeyCustodian.open(path, shares=five[:3]) as kms:
        four = kms.rekey(five[:3], shares=4, threshold=3)
    accepted(lesson07.q4, path, shares, four)


def test_the_attacker_sees_ids_and_sealed_blobs_never_the_key(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    kmslib.init_store(path, passphrase="p")
    key = secrets.token_bytes(32)
    with KeyCustodian.open(path, passphrase="p") as kms:
        kms.import_aes_key("byok", key)
        kms.generate_signing_key("auditor")
        with pytest.raises(StoreError, match="close the custodian"):
            lesson07.attacker_view(path)
        assert not lesson07.found_in_files(path, key)
    view = lesson07.attacker_view(path)
    assert view.keys == [("byok", "aes", "aes-256-gcm", 1, "active"), ("auditor", "signing", "ed25519", 1, "active")]
    assert view.sealed[0] == ("auditor", 1, "ed25519", 12 + 48 + 16)  # PKCS#8 of an Ed25519 key is 48 bytes
    assert view.sealed[1] == ("byok", 1, "aes-256-gcm", 12 + 32 + 16)
    assert view.audit_records == 4  # open, import, generate, close
    assert "root" in view.meta
    assert "sealed blob" in repr(view)
    assert not lesson07.found_in_files(path, key)
    assert lesson07.found_in_files(path, b"byok")  # ids are readable: the test itself can fail


def test_describe_shares_tells_the_threshold_and_never_the_words(tmp_path: Path) -> None:
    shares = kmslib.init_store(tmp_path / "s.db", shares=5, threshold=3)
    text = lesson07.describe_shares(shares)
    assert text == "5 distinct shares of 33 words each; any 3 of them unseal the store"
    assert not set(text.split()) & set(" ".join(shares).split())


def test_the_crash_demo_kills_a_real_process_and_nothing_reported_is_lost(tmp_path: Path) -> None:
    report = lesson07.crash_demo(tmp_path / "crash.db", changes=12)
    assert report.reported == 12
    assert report.missing == []
    assert report.audit_verifies
    assert report.nothing_lost
    assert "killed with SIGKILL" in repr(report)
    assert "all 12 are in the reopened store" in repr(report)
    broken = lesson07.CrashReport(3, ["created key-1"], True)
    assert not broken.nothing_lost  # the report can say otherwise
    assert "1 are missing" in repr(broken)


def test_the_barrier_picture_says_what_it_shows() -> None:
    shown = "\n".join(t.get_text() for ax in pictures.barrier().axes for t in [*ax.texts, ax.title])
    for words in ("unseal key", "never written", "root key", "the barrier", "untrusted", "sealed with AES-GCM", "HMAC"):
        assert words in shown, words


def test_the_quiz_cannot_be_passed_by_always_answering_one_letter() -> None:
    assert len(lesson07.quiz.questions) == 4
    assert len({q.answer for q in lesson07.quiz.questions}) > 1


def test_mistype_changes_one_word_to_another_valid_word_and_the_checksum_catches_it(tmp_path: Path) -> None:
    shares = kmslib.init_store(tmp_path / "s.db", shares=3, threshold=2)
    wrong = lesson07.mistype(shares[0])
    assert sum(a != b for a, b in zip(wrong.split(), shares[0].split(), strict=True)) == 1
    with pytest.raises(UnsealError, match="checksum"):
        KeyCustodian.open(tmp_path / "s.db", shares=[wrong, shares[1]])
