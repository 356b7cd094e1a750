"""A lazy, confused or cheating student against the checked exercises of lessons 01, 02, 03, 04 and 06.

Each test is a wrong answer some checker once accepted, a right one it refused, or an answer it crashed
on or answered in Python's words. The answers are what a student could type: an int or str subclass
whose comparisons always agree, a private value read from the lesson's module, the lesson's own example
custodian, a frozenset of indices.
"""

from __future__ import annotations

import pytest
from test_lessons import PYTHON_INTERNALS, accepted, refused, verdict

from kmslib import KeyCustodian, SignatureError, inspect_token
from kmslib.course import cbc_token, classroom_clock, lesson01, lesson02, lesson03, lesson04, lesson07, tamper


class AlwaysEqual(int):
    """An int that says it equals everything and differs from nothing."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = int.__hash__


class NeverDiffers(int):
    """An int with its own value for ``==`` but ``!=`` always false: ``x != 190`` says it is 190."""

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = int.__hash__


class InRange(int):
    """An int that says it lies in every range."""

    def __lt__(self, other: object) -> bool:
        return True

    def __le__(self, other: object) -> bool:
        return True

    def __gt__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


def plain(said: str) -> None:
    for words in PYTHON_INTERNALS:
        assert words not in said, said


# ---------------------------------------------------------------- numbers whose comparisons lie


def test_numbers_are_judged_by_their_value_not_by_their_comparisons() -> None:
    refused(lesson04.q3, AlwaysEqual(lesson04._EDITED + 1), because="no longer matches")
    refused(lesson02.q1, NeverDiffers(7), because="more or fewer than 7")
    refused(lesson03.q6, NeverDiffers(1), NeverDiffers(2), because="count again")


def test_l01_q4_a_count_whose_comparisons_lie_is_not_zero() -> None:
    token = lesson01.gcm_order_token
    parts = inspect_token(token)
    assert parts.nonce is not None
    for mask in range(1, 256):  # the whole attack, honestly asked
        lesson01.gcm_oracle(tamper(token, 11, mask))
    forged = tamper(token, 12 + lesson01.ORDER.index("amt=") + 4, ord("0") ^ ord("9"))
    accepted(lesson01.q4, forged, 0)
    refused(lesson01.q4, forged, NeverDiffers(5), because="accepted none of the forgeries")
    accepted(lesson01.q4, forged, NeverDiffers(0))  # its value is right


def test_the_right_numbers_pass_as_int_subclasses() -> None:
    accepted(lesson02.q1, NeverDiffers(190))
    accepted(lesson03.q6, NeverDiffers(1216), NeverDiffers(1120))
    accepted(lesson04.q3, NeverDiffers(lesson04._EDITED))


def test_l07_q6_an_int_that_lies_about_its_range_gets_words_not_a_crash() -> None:
    ok, said = verdict(lesson07.q6, InRange(lesson07.P256_ORDER + 5))
    assert not ok
    assert "between 1 and n - 1" in said, said
    d = lesson07._reused_key.private_numbers().private_value
    accepted(lesson07.q6, InRange(d))


# ---------------------------------------------------------------- indices in any collection


def test_indices_in_a_frozenset_or_a_range_are_right_too() -> None:
    accepted(lesson03.q3, frozenset({1, 2, 3, 4}))
    accepted(lesson03.q3, range(1, 5))
    accepted(lesson07.q2, frozenset({0, 3}))
    accepted(lesson07.q2, range(0, 4, 3))
    accepted(lesson07.q2, {0: "genuine", 3: "genuine"}.keys())


def test_true_and_false_are_not_indices() -> None:
    # One answer per candidate (refused or not) is a confused answer: it is not a list of indices.
    refused(lesson03.q3, [False, True, True, True, True, False], because="indices (ints)")
    refused(lesson03.q3, [True, 2, 3, 4], because="indices (ints)")
    refused(lesson07.q2, [True, False, False, True], because="indices (ints)")
    refused(lesson07.q2, "03", because="indices (ints)")
    refused(lesson07.q2, {0: "a", 3: "b"}, because="indices (ints)")  # a dict's keys are not meant


def test_a_huge_range_of_indices_is_refused_without_reading_it() -> None:
    refused(lesson03.q3, range(10**15), because="indices (ints)")  # read one by one, it would never end
    refused(lesson07.q2, range(-(10**15), 10**15), because="indices (ints)")


# ---------------------------------------------------------------- lesson 01 q3: the padding oracle


def test_l01_q3_a_string_python_cannot_encode_gets_words_not_a_crash() -> None:
    ok, said = verdict(lesson01.q3, "\ud800" * 16)
    assert not ok
    assert "bytes" in said, said


def test_l01_q3_junk_queries_and_the_modules_secret_are_no_attack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lesson01.oracle, "queries", 0)
    monkeypatch.setattr(lesson01.oracle, "_asked", set())
    block = inspect_token(lesson01.secret_token).ciphertext[:16]
    for guess in range(40):  # forged tokens ending in the secret's block, but no step of the attack
        lesson01.oracle(cbc_token(bytes([guess]) * 16, block))
    refused(lesson01.q3, lesson01._SECRET, because="accepted")  # read from the module, not through the oracle
    said = {verdict(lesson01.q3, guess) for guess in (lesson01._SECRET, bytes(16), b"PIN=0000;acct=00")}
    assert len(said) == 1, said  # the secret's own bytes get the same words as any guess


def test_l01_q3_another_attack_through_the_oracle_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The attack with its guesses in another order (from 255 down) and fake IVs made by XOR with the real IV.
    monkeypatch.setattr(lesson01.oracle, "_asked", set())
    parts = inspect_token(lesson01.secret_token)
    assert parts.nonce is not None
    iv, block = parts.nonce, parts.ciphertext[:16]
    plain_found = bytearray(16)
    for pad in range(1, 17):
        i = 16 - pad
        for guess in range(255, -1, -1):
            fake = bytearray(iv)
            for j in range(i + 1, 16):
                fake[j] = iv[j] ^ plain_found[j] ^ pad
            fake[i] = iv[i] ^ guess ^ pad
            if not lesson01.oracle(cbc_token(bytes(fake), block)):
                continue
            if pad == 1:
                fake[i - 1] ^= 0x55
                if not lesson01.oracle(cbc_token(bytes(fake), block)):
                    continue
            plain_found[i] = guess
            break
    accepted(lesson01.q3, bytes(plain_found))


# ---------------------------------------------------------------- lesson 02 q2: a KEK a peer also holds


def test_l02_q2_a_kek_agreed_with_a_peer_is_no_proof_the_data_key_was_drawn() -> None:
    from kmslib import encrypt_with_public_key

    bob, peer = KeyCustodian(), KeyCustodian()
    bob_private, bob_public = bob.generate_diffie_hellman_params_and_key(group="x25519")
    peer_private, peer_public = peer.generate_diffie_hellman_params_and_key(group="x25519")
    bob.derive_shared_key("kek", bob_private, peer_public)
    peer.derive_shared_key("kek", peer_private, bob_public)
    bob.generate_data_key("kek")  # for the log's sake
    chosen = bytes(range(1, 33))  # a key of the student's choosing, wrapped by the peer under the same KEK
    bob.import_aes_key("report", chosen)
    answer = (
        encrypt_with_public_key(lesson02.alice_public_pem, chosen),
        bob.encrypt_data_aes("report", lesson02.REPORT),
    )
    refused(lesson02.q2, bob, peer.encrypt_data_aes("kek", chosen), *answer, because="agreed with a peer")


# ---------------------------------------------------------------- lesson 03 q2: a revoked key


def test_l03_q2_a_revoked_link_gets_plain_words() -> None:
    kms = KeyCustodian()
    private, public = kms.generate_diffie_hellman_params_and_key(group="x25519")
    kms.derive_shared_key("link", private, lesson03.partner_public)
    accepted(lesson03.q2, kms, public)
    kms.invalidate_key("link", reason="the exercise is over")
    ok, said = verdict(lesson03.q2, kms, public)
    plain(said)
    assert ok, said  # the key was agreed, as lesson03.q5 and q4 judge a revoked key
    assert verdict(lesson03.q2, kms, public) == (ok, said)


# ---------------------------------------------------------------- lesson 04


def test_l04_q1_a_revocation_poked_into_private_state_is_no_revocation() -> None:
    kms = KeyCustodian()
    kms.establish_aes_key(lesson04.LAPTOP)
    key = kms._keys[lesson04.LAPTOP]
    key.revoked_at = kms.key_info(lesson04.LAPTOP).created_at
    key.reason = "laptop stolen"
    refused(lesson04.q1, kms, because="invalidate_key")


def test_l04_q2_tokens_encrypted_anew_are_not_rewrapped() -> None:
    # Rewrap one token three times (the count looks right), copy the others out and encrypt them anew.
    kms, tokens = lesson04.records()
    kms.rotate_key("records")
    thrice = [kms.rewrap("records", tokens[0]) for _ in range(3)]
    copies = [kms.decrypt_data_aes("records", token) for token in tokens[1:]]
    kms.invalidate_key("records", version=1, reason="version 1 leaked")
    cheat = [thrice[0], *(kms.encrypt_data_aes("records", text) for text in copies)]
    refused(lesson04.q2, kms, cheat, because="encrypt_data_aes")
    # Every token rewrapped, but new_tokens are fresh encryptions of the records' text, made afterwards.
    kms, tokens = lesson04.records()
    kms.rotate_key("records")
    moved = [kms.rewrap("records", token) for token in tokens]
    kms.invalidate_key("records", version=1, reason="version 1 leaked")
    anew = [kms.encrypt_data_aes("records", text) for text in lesson04._MESSAGES]
    refused(lesson04.q2, kms, anew, because="encrypt_data_aes")
    ok, said = verdict(lesson04.q2, kms, moved)  # the log cannot tell which list is which
    assert not ok, said
    assert "records()" in said, said


# ---------------------------------------------------------------- lesson 07


def _lesson_kms() -> tuple[KeyCustodian, str]:
    """The notebook's own custodian, as its first cell leaves it, and the signature it made."""
    kms = KeyCustodian(clock=classroom_clock())
    kms.generate_signing_key("release")
    signature = kms.sign("release", "kmslib-0.2.0.tar.gz sha256=4f2a...")
    kms.verify("release", "kmslib-0.2.0.tar.gz sha256=4f2a...", signature)
    with pytest.raises(SignatureError):
        kms.verify("release", "kmslib-0.2.0.tar.gz sha256=7777...", signature)
    return kms, signature


def test_l07_q1_refuses_the_lessons_own_custodian_and_signature() -> None:
    kms, signature = _lesson_kms()
    refused(lesson07.q1, kms, "kmslib-0.2.0.tar.gz sha256=4f2a...", signature, because="lesson's own example")
    kms.export_public_key("release")  # later cells of the notebook change nothing
    refused(lesson07.q1, kms, "kmslib-0.2.0.tar.gz sha256=4f2a...", signature, because="lesson's own example")
    # Its own key, in the lesson's custodian, is still the lesson's custodian.
    kms.generate_signing_key("mine")
    refused(lesson07.q1, kms, "my words", kms.sign("mine", "my words"), because="lesson's own example")
    # A custodian of one's own passes, with a key called "release" too.
    mine = KeyCustodian()
    mine.generate_signing_key("release")
    document = "kmslib-0.2.0.tar.gz sha256=4f2a..."
    accepted(lesson07.q1, mine, document, mine.sign("release", document))


@pytest.mark.parametrize("checkpoint", ["abc:kms:v1", ":kms:v", "kms:v1:ed25519:kms:v2"])
def test_l07_q5_a_cut_checkpoint_gets_words_not_a_crash(checkpoint: str) -> None:
    ok, said = verdict(lesson07.q5, checkpoint, "x", "y")
    assert not ok
    plain(said)
    assert said.strip(), said


def test_l07_q3_the_lessons_kms_is_its_own_even_after_a_cell_ran_twice() -> None:
    kms, _ = _lesson_kms()
    for _ in range(2):  # the cell that publishes the public key, run twice
        kms.export_public_key("release")
    kms.establish_aes_key("records")
    kms.encrypt_data_aes("records", "mon")
    kms.generate_signing_key("auditor")
    checkpoint = kms.sign_audit_checkpoint("auditor")
    for day in ("tue", "wed", "thu"):
        kms.encrypt_data_aes("records", day)
    export, public_key = kms.audit_log.to_jsonl(), kms.export_public_key("auditor")
    refused(lesson07.q3, checkpoint, export, public_key, because="lesson's own example")


def test_l04_q4_refuses_the_lessons_own_custodian() -> None:
    from kmslib.course import rewrite_log

    # The notebook's kms: rotate, rewrap, revoke version 1 (then a refused decryption, and so on).
    kms = KeyCustodian(clock=classroom_clock())
    kms.establish_aes_key("records")
    old = kms.encrypt_data_aes("records", "patient 17: allergic to penicillin", associated_data="record=17")
    kms.rotate_key("records")
    kms.rewrap("records", old, associated_data="record=17")
    kms.invalidate_key("records", version=1, reason="laptop stolen")
    head = kms.audit_log.head
    for day in ("mon", "tue", "wed"):
        kms.encrypt_data_aes("records", day)
    export = kms.audit_log.to_jsonl()
    refused(lesson04.q4, head, export, rewrite_log(export, 2, outcome="ok"), because="lesson's own example")
    # The custodian records() gives (exercise 2) is the student's own: it begins otherwise.
    lab, tokens = lesson04.records()
    lab.rotate_key("records")
    head = lab.audit_log.head
    for token in tokens:
        lab.rewrap("records", token)
    export = lab.audit_log.to_jsonl()
    accepted(lesson04.q4, head, export, rewrite_log(export, 1, key_id="someone-else"))


def test_rewrite_log_takes_a_time_as_text_and_refuses_one_it_cannot_read() -> None:
    import json
    from datetime import UTC, datetime

    from kmslib import AuditLog, KeyCustodian
    from kmslib.audit import AuditEntry
    from kmslib.course import rewrite_log

    kms = KeyCustodian()
    kms.establish_aes_key("k")
    export = kms.audit_log.to_jsonl()
    forged = rewrite_log(export, 0, time="2020-01-02T03:04:05+00:00")
    assert AuditLog.verify_jsonl(forged)
    first = AuditEntry.from_dict(json.loads(forged.splitlines()[0]))
    assert first.time == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    for bad in ("yesterday", 17, None):
        with pytest.raises(ValueError, match="time"):
            rewrite_log(export, 0, time=bad)
