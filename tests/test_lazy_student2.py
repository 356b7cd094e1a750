"""A lazy, confused or cheating student against the checked exercises of lessons 06 and 08 and the capstone.

Each test is a wrong answer some checker once accepted, a right one it refused, or an answer it crashed
on: an envelope spliced by hand, a revocation poked into a key record, an int, str or datetime subclass
whose methods lie, a path the file system cannot hold, a copy of a store taken too early.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from test_capstone import incident, respond_archive, revoke
from test_lazy_student import AlwaysEqual
from test_lessons import PYTHON_INTERNALS, verdict

import kmslib
from kmslib import KeyCustodian, SignatureError
from kmslib.course import capstone, classroom_clock, exercises, lesson06, lesson08
from kmslib.envelope import HEADER, DataKey, split
from kmslib.kex import Transcript, sign_transcript, verify_transcript

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


def test_l08_q1_q2_refuse_the_lessons_own_store_and_token(tmp_path: Path) -> None:
    # The notebook's first cells, as they run: its store, its token of PAYROLL, a backup, then the rekey.
    path = tmp_path / "team.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    ana, ben, chen, _, eli = shares
    with KeyCustodian.open(path, shares=[ana, chen, eli], clock=classroom_clock()) as kms:
        kms.establish_aes_key("payroll")
        kms.import_aes_key("imported", os.urandom(32))
        kms.generate_signing_key("auditor")
        token = kms.encrypt_data_aes("payroll", "2026-01: Ana 4100, Ben 3900, Chen 4250")
    before = tmp_path / "before-rekey.db"
    shutil.copy(path, before)
    with KeyCustodian.open(path, shares=[ana, ben, chen]) as kms:
        new_shares = kms.rekey([ana, ben, chen], shares=5, threshold=3)
    for store, its_shares in ((before, shares), (path, new_shares)):
        refused(lesson08.q1, store, its_shares, because="lesson's own")
        refused(lesson08.q2, store, its_shares, token, because="lesson's own")
    # A store of one's own that makes the same keys in another order is one's own.
    mine = tmp_path / "mine.db"
    my_shares = kmslib.init_store(mine, shares=5, threshold=3)
    with KeyCustodian.open(mine, shares=my_shares[1:4]) as kms:
        kms.generate_signing_key("auditor")
        kms.establish_aes_key("payroll")
        mine_token = kms.encrypt_data_aes("payroll", lesson08.PAYROLL)
    accepted(lesson08.q1, mine, my_shares)
    accepted(lesson08.q2, mine, my_shares, mine_token)


# ---------------------------------------------------------------- the capstone


def q1_answers(case: capstone.Incident) -> tuple[datetime, int, set[int]]:
    log = list(case.hq.audit_log)
    link = [e for e in log if e.key_id == "link-1" and e.outcome == "ok"]
    tokens = len([e for e in link if e.operation in ("encrypt_data_aes", "decrypt_data_aes")])
    versions = {
        e.version
        for e in log
        if e.key_id == "archive" and e.operation == "encrypt_envelope" and e.outcome == "ok" and e.time >= link[0].time
    }
    return link[0].time, tokens, {v for v in versions if v is not None}


class Timeless(datetime):
    """A time that is neither before nor after any other."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True


def test_capstone_q1_numbers_and_times_are_judged_by_value() -> None:
    case = incident()
    since, tokens, versions = q1_answers(case)
    accepted(capstone.q1, case.hq, since, tokens, versions)
    refused(capstone.q1, case.hq, since, AlwaysEqual(1), versions, because="count the tokens")
    accepted(capstone.q1, case.hq, since, AlwaysEqual(tokens), versions)  # its value is right
    refused(capstone.q1, case.hq, Timeless(2020, 1, 1, tzinfo=UTC), tokens, versions, because="did not exist yet")
    accepted(capstone.q1, case.hq, Timeless.fromisoformat(since.isoformat()), tokens, versions)


def test_capstone_q1_versions_in_any_collection_are_right() -> None:
    case = incident()
    since, tokens, versions = q1_answers(case)
    accepted(capstone.q1, case.hq, since, tokens, range(min(versions), max(versions) + 1))
    accepted(capstone.q1, case.hq, since, tokens, dict.fromkeys(versions).keys())
    refused(capstone.q1, case.hq, since, tokens, {True, *versions}, because="version numbers")
    refused(capstone.q1, case.hq, since, tokens, range(10**12), because="version numbers")


def test_capstone_q2_a_link_revocation_poked_into_the_record_is_none() -> None:
    case = incident()
    record = case.hq._keys["link-1"]
    record.revoked_at = case.hq.key_info("link-1").created_at
    record.reason = "shop-1 terminal stolen"
    assert not case.hq.key_info("link-1").active
    refused(capstone.q2, case.hq, respond_archive(case.hq, dict(case.archive)), because="invalidate_key")


def test_capstone_q2_a_suspended_or_deactivated_link_is_not_revoked() -> None:
    case = incident()
    case.hq.suspend_key("link-1", reason="shop-1 terminal stolen")  # resume_key brings it back
    refused(capstone.q2, case.hq, respond_archive(case.hq, dict(case.archive)), because="mark it compromised")
    case = incident()
    case.hq.deactivate_key("link-1", reason="shop-1 terminal stolen")  # it still decrypts the thief's tokens
    refused(capstone.q2, case.hq, respond_archive(case.hq, dict(case.archive)), because="mark it compromised")


def test_capstone_q2_archive_versions_poked_into_the_record_are_not_revoked() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    hq.rotate_key("archive")
    archive = {name: bytes(hq.rewrap_envelope("archive", e, associated_data=name)) for name, e in case.archive.items()}
    hq._keys["archive"].revoked_versions = frozenset({2, 3})
    assert hq.key_info("archive").revoked_versions == (2, 3)
    refused(capstone.q2, hq, archive, because="invalidate_key")


def enrolled(case: capstone.Incident) -> None:
    hq = case.hq
    for terminal in case.arrivals:
        private, public = hq.generate_diffie_hellman_params_and_key(group="x25519")
        transcript = Transcript.of(terminal.public, public, initiator=terminal.name, responder="head-office")
        signature = sign_transcript(hq, "hq-id", transcript, role="responder")
        with contextlib.redirect_stdout(io.StringIO()):
            confirmation = terminal.answer(public, signature)
        try:
            verify_transcript(case.installer_sheet, transcript, confirmation, role="initiator")  # type: ignore[arg-type]
        except SignatureError:
            continue
        hq.derive_shared_key("link-3", private, terminal.public, transcript=transcript)


class Boastful(str):
    """A checkpoint whose split() claims it covers a million entries."""

    def split(self, *args: Any, **kwargs: Any) -> list[str]:
        parts = str.split(self, *args, **kwargs)
        parts[2] = str(10**6)
        return parts


def test_capstone_q4_odd_counts_get_words_and_a_lying_split_proves_nothing() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    respond_archive(hq, dict(case.archive))
    enrolled(case)
    checkpoint = hq.sign_audit_checkpoint("auditor")
    accepted(capstone.q4, hq, checkpoint)
    parts = checkpoint.split(":")
    for count in ("1" * 5000, "²", "١٢"):  # too many digits for int(), and digits int() does not read
        refused(capstone.q4, hq, ":".join([*parts[:2], count, *parts[3:]]), because="cut short or altered")
    refused(capstone.q4, hq, Boastful(case.auditor_checkpoint), because="5 January")


def both_enrolled(case: capstone.Incident) -> None:
    """The lazy loop: each arrival enrolled, the thief (who comes first) as link-3, the replacement as link-4."""
    hq = case.hq
    for terminal, link_id in zip(case.arrivals, ("link-3", "link-4"), strict=True):
        private, public = hq.generate_diffie_hellman_params_and_key(group="x25519")
        transcript = Transcript.of(terminal.public, public, initiator=terminal.name, responder="head-office")
        signature = sign_transcript(hq, "hq-id", transcript, role="responder")
        with contextlib.redirect_stdout(io.StringIO()):
            terminal.answer(public, signature)
        hq.derive_shared_key(link_id, private, terminal.public, transcript=transcript)


def test_capstone_q3_q4_the_thiefs_link_suspended_deactivated_or_poked_is_still_his() -> None:
    for how in ("poked", "suspended", "deactivated"):
        case = incident()
        hq = case.hq
        revoke(hq, "link-1", reason="shop-1 terminal stolen")
        respond_archive(hq, dict(case.archive))
        both_enrolled(case)
        assert case.arrivals[0].identity != case.installer_sheet  # link-3 is the thief's
        if how == "poked":
            record = hq._keys["link-3"]
            record.revoked_at = hq.key_info("link-3").created_at
            record.reason = "the thief's terminal"
        elif how == "suspended":
            hq.suspend_key("link-3", reason="the thief's terminal")
        else:
            hq.deactivate_key("link-3", reason="the thief's terminal")  # it still decrypts what he sends
        refused(capstone.q3, hq, "link-4", because="with the thief's terminal")
        refused(capstone.q4, hq, hq.sign_audit_checkpoint("auditor"), because="finish the response first")
        if how == "poked":
            continue  # the custodian now refuses to revoke what looks revoked: start the incident over
        hq.invalidate_key("link-3", reason="the thief's terminal")
        accepted(capstone.q3, hq, "link-4")
        accepted(capstone.q4, hq, hq.sign_audit_checkpoint("auditor"))


def test_capstone_q4_a_response_poked_into_key_records_is_not_finished() -> None:
    case = incident()
    hq = case.hq
    record = hq._keys["link-1"]
    record.revoked_at = hq.key_info("link-1").created_at
    record.reason = "shop-1 terminal stolen"
    respond_archive(hq, dict(case.archive))
    enrolled(case)
    refused(capstone.q4, hq, hq.sign_audit_checkpoint("auditor"), because="finish the response first")


def test_capstone_q3_a_suspended_new_link_is_called_suspended() -> None:
    case = incident()
    enrolled(case)
    case.hq.suspend_key("link-3", reason="installer asked to wait")
    refused(capstone.q3, case.hq, "link-3", because="'link-3' is suspended")


def test_l06_q3_a_data_key_generated_without_plaintext_then_unwrapped_is_a_generated_one() -> None:
    # AWS's other way (GenerateDataKeyWithoutPlaintext, then Decrypt when needed): the key was still drawn for it.
    kms, _ = l06_after_q1()
    wrapped = kms.generate_data_key_without_plaintext(KEK)
    key = kms.decrypt_data_aes(KEK, wrapped, encoding=None)
    assert isinstance(key, bytes)
    nonce = os.urandom(12)
    accepted(
        lesson06.q3,
        kms,
        DataKey(KEK, 1, key, wrapped),
        envelope(wrapped, nonce + AESGCM(key).encrypt(nonce, lesson06.REPORT, HEADER)),
    )


def test_capstone_q4_archive_versions_marked_compromised_then_poked_revoked_are_not_a_finished_response() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    respond_archive(hq, dict(case.archive), how="mark_compromised")
    hq._keys["archive"].revoked_versions = frozenset({2, 3})
    enrolled(case)
    refused(capstone.q4, hq, hq.sign_audit_checkpoint("auditor"), because="finish the response first")
