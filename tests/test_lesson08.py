"""Lesson 08 (sealed storage): the exercises refuse the plausible wrong answers, the solutions pass, and the demos."""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_lessons import accepted, refused

import kmslib
from kmslib import KeyCustodian, StoreError, UnsealError
from kmslib.course import ____, lesson08, pictures
from kmslib.unsealing import share_progress

#: The lesson's notebook, every cell's source in one text.
NOTEBOOK = "\n".join(
    "".join(cell["source"])
    for cell in json.loads((Path(__file__).parents[1] / "notebooks" / "08_sealed_storage.ipynb").read_text())["cells"]
)


def run(exercise: Any, **names: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {
        **{name: getattr(lesson08, name) for name in lesson08.__all__},
        "kmslib": kmslib,
        "KeyCustodian": KeyCustodian,
        "StoreError": StoreError,
        "shutil": shutil,
        "sqlite3": sqlite3,
        **names,
    }
    exec(exercise.solution_code, namespace)
    return namespace


def test_every_solution_passes_in_order_and_every_check_says_the_same_after_the_rekey(tmp_path: Path) -> None:
    names = run(lesson08.q1, folder=tmp_path)
    path, shares = names["path"], names["shares"]
    accepted(lesson08.q1, path, shares)
    names = run(lesson08.q2, path=path, shares=shares)
    token = names["token"]
    accepted(lesson08.q2, path, shares, token)
    accepted(lesson08.q2, path, shares, token)  # again: checking changes nothing that matters
    names = run(lesson08.q3, path=path, shares=shares, folder=tmp_path)
    copy, error = names["copy"], names["error"]
    accepted(lesson08.q3, copy, shares, error)
    names = run(lesson08.q4, path=path, shares=shares, folder=tmp_path)
    team, new_shares = names["team"], names["new_shares"]
    accepted(lesson08.q4, path, team, shares, new_shares)
    # After the rekey, every check gives the same verdict as before it.
    accepted(lesson08.q1, path, shares)
    accepted(lesson08.q2, path, shares, token)
    accepted(lesson08.q3, copy, shares, error)
    accepted(lesson08.q4, path, team, shares, new_shares)


def _store(tmp_path: Path, name: str = "s.db", *keys: str) -> tuple[Path, list[str]]:
    path = tmp_path / name
    shares = kmslib.init_store(path, shares=5, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        for key_id in keys:
            kms.establish_aes_key(key_id)
    return path, shares


# ---------------------------------------------------------------- exercise 1


def test_q1_accepts_other_correct_answers(tmp_path: Path) -> None:
    path, shares = _store(tmp_path)
    accepted(lesson08.q1, str(path), tuple(shares))  # a str path and a tuple
    accepted(lesson08.q1, path, list(reversed(shares)))  # the shares in another order


def test_q1_refuses_a_passphrase_store_the_wrong_counts_and_other_shares(tmp_path: Path) -> None:
    refused(lesson08.q1, ____, [], because="replace the blank")
    refused(lesson08.q1, tmp_path / "missing.db", [], because="no file")
    by_passphrase = tmp_path / "pass.db"
    kmslib.init_store(by_passphrase, passphrase="x")
    refused(lesson08.q1, by_passphrase, [], because="passphrase store")
    two = tmp_path / "two.db"
    refused(lesson08.q1, two, kmslib.init_store(two, shares=5, threshold=2), because="any 2 of your shares")
    four = tmp_path / "four.db"
    refused(lesson08.q1, four, kmslib.init_store(four, shares=4, threshold=3), because="4 distinct shares")
    right, shares = _store(tmp_path, "right.db")
    refused(lesson08.q1, right, shares[0], because="list of shares")
    refused(lesson08.q1, right, [shares[0]] * 5, because="1 distinct shares")  # the same share five times
    other = kmslib.init_store(tmp_path / "other.db", shares=5, threshold=3)
    refused(lesson08.q1, right, other, because="do not open right.db")
    refused(lesson08.q1, right, shares[:3] + other[:2], because="not one set of valid shares")
    refused(lesson08.q1, right, ["a", "b"], because="not one set of valid shares")


def test_q1_says_plainly_that_the_store_is_still_open(tmp_path: Path) -> None:
    path, shares = _store(tmp_path)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        refused(lesson08.q1, path, shares, because="open in a custodian of yours: close it")
        refused(lesson08.q1, kms, shares, because="not a custodian")
        assert kms.list_keys() == ()  # the check did not disturb the open custodian
    refused(lesson08.q1, kms, shares, because="not a custodian (a closed one)")
    accepted(lesson08.q1, path, shares)


# ---------------------------------------------------------------- exercise 2


def test_q2_accepts_other_correct_answers(tmp_path: Path) -> None:
    path, shares = _store(tmp_path)
    with KeyCustodian.open(path, shares=shares[1:4]) as kms:
        kms.establish_aes_key("payroll", mode="gcm")
        token = kms.encrypt_data_aes("payroll", lesson08.PAYROLL)
    accepted(lesson08.q2, path, shares[2:], token)  # any three shares
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.rotate_key("payroll")  # a later rotation keeps the old version for decryption
        later = kms.encrypt_data_aes("payroll", lesson08.PAYROLL)
    accepted(lesson08.q2, path, shares, token)
    accepted(lesson08.q2, str(path), tuple(shares), later)


def test_q2_refuses_a_cbc_key_another_key_another_text_and_a_revoked_key(tmp_path: Path) -> None:
    path, shares = _store(tmp_path)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.establish_aes_key("other")
        other_token = kms.encrypt_data_aes("other", lesson08.PAYROLL)
    refused(lesson08.q2, path, shares, other_token, because="no key 'payroll'")
    with KeyCustodian.open(path, shares=shares[1:4]) as kms:
        kms.establish_aes_key("payroll")
        wrong_text = kms.encrypt_data_aes("payroll", "something else")
        right = kms.encrypt_data_aes("payroll", lesson08.PAYROLL)
    refused(lesson08.q2, path, shares, other_token, because="does not decrypt with the store's 'payroll'")
    refused(lesson08.q2, path, shares, wrong_text, because="encrypt PAYROLL")
    refused(lesson08.q2, path, shares, b"bytes", because="text token")
    refused(lesson08.q2, path, shares[:2], right, because="do not open s.db")
    memory = KeyCustodian()  # the right steps, but in memory: nothing survives a restart
    memory.establish_aes_key("payroll")
    refused(lesson08.q2, path, shares, memory.encrypt_data_aes("payroll", lesson08.PAYROLL), because="does not decrypt")
    cbc, cbc_shares = _store(tmp_path, "cbc.db")
    with KeyCustodian.open(cbc, shares=cbc_shares[:3]) as kms:
        kms.establish_aes_key("payroll", mode="cbc")
        cbc_token = kms.encrypt_data_aes("payroll", lesson08.PAYROLL)
    refused(lesson08.q2, cbc, cbc_shares, cbc_token, because="the task asks for AES-256-GCM")
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.invalidate_key("payroll")
    refused(lesson08.q2, path, shares, right, because="'payroll' is revoked")


# ---------------------------------------------------------------- exercise 3


def _copy_with(path: Path, tmp_path: Path, name: str, *statements: tuple[str, tuple[object, ...]]) -> Path:
    copy = tmp_path / name
    shutil.copy(path, copy)
    db = sqlite3.connect(copy)
    for statement, values in statements:
        db.execute(statement, values)
    db.commit()
    db.close()
    return copy


def _blob(path: Path, key_id: str, version: int = 1) -> bytes:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    (blob,) = db.execute("SELECT sealed FROM versions WHERE key_id = ? AND version = ?", (key_id, version)).fetchone()
    db.close()
    return bytes(blob)


def _swap(key_a: str, key_b: str, a: bytes, b: bytes) -> tuple[tuple[str, tuple[object, ...]], ...]:
    update = "UPDATE versions SET sealed = ? WHERE key_id = ?"
    return ((update, (b, key_a)), (update, (a, key_b)))


def _error(copy: Path, shares: list[str]) -> StoreError:
    with pytest.raises(StoreError) as refusal:
        KeyCustodian.open(copy, shares=shares[:3])
    return refusal.value


def made_up_error() -> StoreError:
    return StoreError("tampered with, or moved from another row")


def test_q3_accepts_other_correct_swaps(tmp_path: Path) -> None:
    path, shares = _store(tmp_path, "s.db", "payroll", "reports")
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.generate_signing_key("auditor")
    payroll, reports, auditor = (_blob(path, key) for key in ("payroll", "reports", "auditor"))
    # One statement, by rowid, swapping the other pair of AES keys.
    one = _copy_with(
        path,
        tmp_path,
        "one.db",
        (
            "UPDATE versions SET sealed = CASE key_id WHEN 'payroll' THEN ? ELSE ? END "
            "WHERE key_id IN ('payroll', 'reports')",
            (reports, payroll),
        ),
    )
    accepted(lesson08.q3, one, shares, _error(one, shares))
    # An AES key's row swapped with a signing key's.
    mixed = _copy_with(path, tmp_path, "mixed.db", *_swap("reports", "auditor", reports, auditor))
    accepted(lesson08.q3, str(mixed), tuple(shares[1:4]), _error(mixed, shares))


def test_q3_refuses_an_untouched_copy_a_made_up_error_and_another_tampering(tmp_path: Path) -> None:
    path, shares = _store(tmp_path, "s.db", "payroll", "reports")
    payroll, reports = _blob(path, "payroll"), _blob(path, "reports")
    untouched = tmp_path / "untouched.db"
    shutil.copy(path, untouched)
    made_up = StoreError("the sealed material of version 1 of key 'payroll' is missing: moved from another row")
    refused(lesson08.q3, untouched, shares, made_up, because="opens with your shares: nothing in it was swapped")
    with pytest.raises(UnsealError) as unseal:
        KeyCustodian.open(untouched, shares=shares[:2])
    refused(lesson08.q3, untouched, shares, unseal.value, because="nothing in it was swapped")
    refused(lesson08.q3, untouched, shares, ValueError("x"), because="StoreError that opening the copy raised")
    revoked = _copy_with(
        path, tmp_path, "revoked.db", ("UPDATE keys SET state = 'revoked' WHERE key_id = ?", ("payroll",))
    )
    refused(lesson08.q3, revoked, shares, _error(revoked, shares), because="changed in some other way")
    swapped = _copy_with(path, tmp_path, "swapped.db", *_swap("payroll", "reports", payroll, reports))
    refused(lesson08.q3, swapped, shares, made_up, because="not the error opening swapped.db raises")
    refused(lesson08.q3, swapped, shares, unseal.value, because="not the error opening swapped.db raises")
    refused(lesson08.q3, swapped, shares[:2], _error(swapped, shares), because="do not unseal swapped.db")
    accepted(lesson08.q3, swapped, shares, _error(swapped, shares))  # and the right error, for contrast


def test_q3_refuses_two_swaps_a_swap_within_one_key_and_an_uncommitted_swap(tmp_path: Path) -> None:
    path, shares = _store(tmp_path, "s.db", "payroll", "reports", "archive")
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.rotate_key("payroll")
    a, b, c = (_blob(path, key) for key in ("payroll", "reports", "archive"))
    update = "UPDATE versions SET sealed = ? WHERE key_id = ? AND version = 1"
    rotated = _copy_with(
        path, tmp_path, "rotated.db", (update, (b, "payroll")), (update, (c, "reports")), (update, (a, "archive"))
    )
    refused(lesson08.q3, rotated, shares, _error(rotated, shares), because="more than once")
    v1, v2 = _blob(path, "payroll", 1), _blob(path, "payroll", 2)
    within = _copy_with(
        path,
        tmp_path,
        "within.db",
        ("UPDATE versions SET sealed = ? WHERE key_id = 'payroll' AND version = 1", (v2,)),
        ("UPDATE versions SET sealed = ? WHERE key_id = 'payroll' AND version = 2", (v1,)),
    )
    refused(lesson08.q3, within, shares, _error(within, shares), because="two keys' sealed rows")
    pending = tmp_path / "pending.db"
    shutil.copy(path, pending)
    db = sqlite3.connect(pending)
    db.execute(update, (b, "payroll"))
    db.execute(update, (a, "reports"))  # no commit: the copy on disk is unchanged
    refused(lesson08.q3, pending, shares, made_up_error(), because="changes not committed")
    db.close()


def test_q3_says_plainly_that_the_copy_is_still_open(tmp_path: Path) -> None:
    path, shares = _store(tmp_path, "s.db", "payroll")
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    with KeyCustodian.open(copy, shares=shares[:3]) as kms:
        refused(lesson08.q3, copy, shares, made_up_error(), because="copy.db is open in a custodian of yours")
        assert [info.key_id for info in kms.list_keys()] == ["payroll"]


# ---------------------------------------------------------------- exercise 4


def _rekeyed(path: Path, old: list[str], tmp_path: Path, name: str = "team.db", **rekey: Any) -> tuple[Path, list[str]]:
    team = tmp_path / name
    shutil.copy(path, team)
    with KeyCustodian.open(team, shares=old[:3]) as kms:
        new = kms.rekey(old[:3], **({"shares": 4, "threshold": 3} | rekey))
    return team, new


def test_q4_accepts_other_correct_answers(tmp_path: Path) -> None:
    path, shares = _store(tmp_path, "s.db", "payroll", "reports")
    team = tmp_path / "live.db"
    shutil.copy(path, team)
    with KeyCustodian.open(team, shares=shares[2:]) as kms:  # other holders, another name
        new = kms.rekey([shares[4], shares[2], shares[3]], shares=4, threshold=3)
    accepted(lesson08.q4, str(path), str(team), tuple(shares), tuple(new))
    twice, first = _rekeyed(path, shares, tmp_path, "twice.db", shares=5, threshold=3)  # a first try, then again
    with KeyCustodian.open(twice, shares=first[:3]) as kms:
        last = kms.rekey(first[:3], shares=4, threshold=3)
    accepted(lesson08.q4, path, twice, shares, last)


def test_q4_refuses_a_revoked_key_the_store_itself_a_copy_not_rekeyed_and_wrong_sets(tmp_path: Path) -> None:
    path, shares = _store(tmp_path, "s.db", "payroll")
    unrekeyed = tmp_path / "copy.db"
    shutil.copy(path, unrekeyed)
    refused(
        lesson08.q4,
        path,
        unrekeyed,
        shares,
        kmslib.init_store(tmp_path / "x.db", shares=4, threshold=3),
        because="do not open copy.db",
    )
    refused(lesson08.q4, path, unrekeyed, shares, shares[:4], because="whole new set")  # 4 old shares are no new set
    refused(lesson08.q4, path, path, shares, shares[:4], because="team is path itself")
    five, five_shares = _rekeyed(path, shares, tmp_path, "five.db", shares=5, threshold=3)
    refused(lesson08.q4, path, five, shares, five_shares, because="4, any 3")
    team, new = _rekeyed(path, shares, tmp_path)
    refused(lesson08.q4, path, team, shares, new[:1] * 4, because="the new set has 1 shares")  # one share, four times
    refused(lesson08.q4, path, team, shares, ["a", "b"], because="not one set of valid shares")
    with KeyCustodian.open(team, shares=new[:3]) as kms:
        kms.invalidate_key("payroll")  # the rekey must keep every key working
    refused(lesson08.q4, path, team, shares, new, because="'payroll' in team differs from path's")
    earlier, first = _rekeyed(path, shares, tmp_path, "earlier.db")
    with KeyCustodian.open(earlier, shares=first[:3]) as kms:
        kms.rekey(first[:3], shares=4, threshold=3)
    refused(lesson08.q4, path, earlier, shares, first, because="do not open earlier.db")  # an earlier attempt's shares
    fresh = tmp_path / "fresh.db"  # a new store with a new 'payroll' key: not the team's keys
    fresh_shares = kmslib.init_store(fresh, shares=4, threshold=3)
    with KeyCustodian.open(fresh, shares=fresh_shares[:3]) as kms:
        kms.establish_aes_key("payroll")
    refused(lesson08.q4, path, fresh, shares, fresh_shares, because="'payroll' in team differs from path's")


def test_q4_refuses_the_store_rekeyed_instead_of_its_copy(tmp_path: Path) -> None:
    path, shares = _store(tmp_path, "s.db", "payroll")
    team = tmp_path / "team.db"
    shutil.copy(path, team)
    with KeyCustodian.open(team, shares=shares[:3]) as kms:
        new = kms.rekey(shares[:3], shares=4, threshold=3)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.rekey(shares[:3], shares=4, threshold=3)
    refused(lesson08.q4, path, team, shares, new, because="the old shares no longer open path")
    with KeyCustodian.open(team, shares=new[:3]):
        refused(lesson08.q4, tmp_path / "s.db", team, shares, new, because="team.db is open in a custodian of yours")


def test_the_attacker_sees_ids_and_sealed_blobs_never_the_key(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    kmslib.init_store(path, passphrase="p")
    key = secrets.token_bytes(32)
    with KeyCustodian.open(path, passphrase="p") as kms:
        kms.import_aes_key("imported", key)
        kms.generate_signing_key("auditor")
        with pytest.raises(StoreError, match="close the custodian"):
            lesson08.attacker_view(path)
        assert not lesson08.found_in_files(path, key)
    view = lesson08.attacker_view(path)
    assert view.keys == [
        ("imported", "aes", "aes-256-gcm", 1, "active"),
        ("auditor", "signing", "ed25519", 1, "active"),
    ]
    assert view.sealed[0] == ("auditor", 1, "ed25519", 12 + 48 + 16)  # PKCS#8 of an Ed25519 key is 48 bytes
    assert view.sealed[1] == ("imported", 1, "aes-256-gcm", 12 + 32 + 16)
    assert view.audit_records == 4  # open, import, generate, close
    assert "root" in view.meta
    assert "sealed blob" in repr(view)
    assert not lesson08.found_in_files(path, key)
    assert lesson08.found_in_files(path, b"imported")  # ids are readable: the test itself can fail


def test_describe_shares_tells_the_threshold_and_never_the_words(tmp_path: Path) -> None:
    shares = kmslib.init_store(tmp_path / "s.db", shares=5, threshold=3)
    text = lesson08.describe_shares(shares)
    assert text == "5 distinct shares of 33 words each; any 3 of them unseal the store"
    assert not set(text.split()) & set(" ".join(shares).split())


def test_the_crash_demo_kills_a_real_process_and_nothing_reported_is_lost(tmp_path: Path) -> None:
    report = lesson08.crash_demo(tmp_path / "crash.db", changes=12)
    assert report.reported == 12
    assert report.missing == []
    assert report.audit_verifies
    assert report.nothing_lost
    assert "killed with SIGKILL" in repr(report)
    assert "all 12 are in the reopened store" in repr(report)
    broken = lesson08.CrashReport(3, ["created key-1"], True)
    assert not broken.nothing_lost  # the report can say otherwise
    assert "1 are missing" in repr(broken)


def test_the_barrier_picture_says_what_it_shows() -> None:
    shown = "\n".join(t.get_text() for ax in pictures.barrier().axes for t in [*ax.texts, ax.title])
    for words in ("unseal key", "never written", "root key", "the barrier", "untrusted", "sealed with AES-GCM", "HMAC"):
        assert words in shown, words


def test_the_picture_names_the_holders_the_code_opens_the_store_with() -> None:
    shown = "\n".join(t.get_text() for ax in pictures.barrier().axes for t in ax.texts)
    for who in ("Ana", "Chen", "Eli"):
        assert f"{who}: a share" in shown, who
    assert "Ben" not in shown
    assert "shares=[ana, chen, eli]" in NOTEBOOK


def test_the_quiz_cannot_be_passed_by_always_answering_one_letter() -> None:
    assert len(lesson08.quiz.questions) == 5
    assert len({q.answer for q in lesson08.quiz.questions}) > 1
    for number, question in enumerate(lesson08.quiz.questions, 1):
        assert lesson08.quiz.answer(number, question.answer)
        assert all(not lesson08.quiz.answer(number, other) for other in question.choices if other != question.answer)


def test_the_shamir_question_counts_slip39s_digest_share() -> None:
    # SLIP-0039, design rationale, "Digest": T - 1 shares cut the secret's entropy to m - 32 bits.
    question = lesson08.quiz.questions[1]
    assert "2^224" in question.choices[question.answer]
    assert "Nothing" in next(text for letter, text in question.choices.items() if letter != question.answer)
    assert "32 bits" in question.why
    assert "SLIP-0039" in question.why


def test_a_made_up_share_passes_the_checksum_and_only_combining_catches_it(tmp_path: Path) -> None:
    from shamir_mnemonic.share import Share  # type: ignore[import-untyped]

    path = tmp_path / "s.db"
    shares = kmslib.init_store(path, shares=5, threshold=3)
    honest = Share.from_mnemonic(shares[0])
    value = bytearray(honest.value)
    value[0] ^= 1
    made_up = dataclasses.replace(honest, value=bytes(value)).mnemonic()
    assert share_progress([made_up, shares[1], shares[2]]) == (3, 3)  # its checksum is valid
    with pytest.raises(UnsealError, match="not shares of one secret"):
        KeyCustodian.open(path, shares=[made_up, shares[1], shares[2]])
    question = lesson08.quiz.questions[2]
    assert "mistyped" in question.choices[question.answer]
    assert "combined" in question.why


#: A process that commits rows to an SQLite file with synchronous=OFF (no fsync at all), printing each after its
#: commit, until it is killed.
_NO_FSYNC_WRITER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=OFF")
db.execute("CREATE TABLE t (n INTEGER)")
n = 0
while True:
    db.execute("INSERT INTO t VALUES (?)", (n,))
    sys.stdout.write(f"{n}\\n")
    sys.stdout.flush()
    n += 1
"""


def test_a_kill_keeps_committed_writes_even_without_fsync_so_it_cannot_show_durability(tmp_path: Path) -> None:
    path = tmp_path / "nofsync.db"
    worker = subprocess.Popen([sys.executable, "-c", _NO_FSYNC_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    reported = []
    for line in worker.stdout:
        reported.append(int(line))
        if len(reported) >= 200:
            worker.kill()
            break
    worker.wait()
    worker.stdout.close()
    db = sqlite3.connect(path)
    kept = {n for (n,) in db.execute("SELECT n FROM t")}
    db.close()
    assert set(reported) <= kept  # what a SIGKILL shows, synchronous=FULL or OFF alike
    question = lesson08.quiz.questions[3]
    assert "whole or not at all" in question.choices[question.answer]
    assert "synchronous=OFF" in question.why
    assert "power" in question.why


def test_after_a_rekey_the_old_shares_open_an_old_backup_not_the_live_store(tmp_path: Path) -> None:
    path, shares = _store(tmp_path, "s.db", "payroll")
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    with KeyCustodian.open(path, shares=shares[:3]) as kms:
        kms.rekey(shares[:3], shares=5, threshold=3)
    with pytest.raises(UnsealError):
        KeyCustodian.open(path, shares=shares[:3])
    with KeyCustodian.open(backup, shares=shares[:3]) as old:
        assert "payroll" in old
    question = lesson08.quiz.questions[4]
    assert "backup" in question.choices[question.answer]


def test_the_notebook_claims_no_more_than_the_store_does() -> None:
    for claim in ("must stop working", "open nothing.", "(hers included) open nothing", "byok", "rising difficulty"):
        assert claim not in NOTEBOOK, claim
    for words in ("synchronous=OFF", "page cache", "power", "backup", "digest", "ImportKeyMaterial"):
        assert words in NOTEBOOK, words


def test_mistype_changes_one_word_to_another_valid_word_and_the_checksum_catches_it(tmp_path: Path) -> None:
    shares = kmslib.init_store(tmp_path / "s.db", shares=3, threshold=2)
    wrong = lesson08.mistype(shares[0])
    assert sum(a != b for a, b in zip(wrong.split(), shares[0].split(), strict=True)) == 1
    with pytest.raises(UnsealError, match="checksum"):
        KeyCustodian.open(tmp_path / "s.db", shares=[wrong, shares[1]])
