"""kmslib.course: the exercise checkers, the shared helpers and the pictures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import kmslib
from kmslib import DecryptionError, KeyCustodian, inspect_token
from kmslib.course import COURSE, ____, capstone, classroom_clock, pictures, tamper
from kmslib.course.capstone import EXERCISES, Terminal, q1, q2, q3, q4, q5, q6


def test_classroom_clock_is_deterministic() -> None:
    clock = classroom_clock()
    assert [clock(), clock()] == [
        datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 9, 0, 1, tzinfo=UTC),
    ]
    other = classroom_clock(datetime(2030, 1, 1, tzinfo=UTC), step=timedelta(minutes=5))
    other()
    assert other() == datetime(2030, 1, 1, 0, 5, tzinfo=UTC)


def test_tamper_flips_exactly_the_bytes_asked(kms: KeyCustodian) -> None:
    kms.establish_aes_key("k", mode="cbc")
    token = kms.encrypt_data_aes("k", "to=bob;amt=0100;")
    forged = tamper(token, 3, bytes(a ^ b for a, b in zip(b"bob", b"eve", strict=True)))
    assert inspect_token(forged).version == 1
    assert kms.decrypt_data_aes("k", forged) == "to=eve;amt=0100;"  # CBC cannot tell
    assert tamper(tamper(token, 0, 0xFF), 0, 0xFF) == token
    with pytest.raises(ValueError, match="cannot change"):
        tamper(token, 47, b"\x01\x01")
    with pytest.raises(DecryptionError):
        tamper("not a token", 0, 1)


def test_the_blank_does_nothing() -> None:
    assert repr(____) == "____"


def test_course_map_lists_every_notebook() -> None:
    from helpers import ROOT

    on_disk = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [name for name, _ in COURSE] == on_disk


CONTEXT = "dept=finance"


@pytest.fixture
def hq(tmp_path: Path) -> Iterator[KeyCustodian]:
    """The student's custodian, in a sealed store (closed at the end if the test left it open)."""
    path = tmp_path / "hq.db"
    kmslib.init_store(path, passphrase=capstone.PASSPHRASE)
    custodian = KeyCustodian.open(path, passphrase=capstone.PASSPHRASE)
    yield custodian
    custodian.close()


def solve(kms: KeyCustodian, upto: int) -> dict[str, object]:
    """Do the capstone's exercises 1..upto, as a student would."""
    answers: dict[str, object] = {}
    if upto >= 1:
        kms.establish_aes_key("ops")
    if upto >= 2:
        answers["old"] = kms.encrypt_envelope("ops", capstone.REPORT, associated_data=CONTEXT)
    if upto >= 3:
        kms.rotate_key("ops")
        answers["new"] = kms.rewrap_envelope("ops", answers["old"], associated_data=CONTEXT)  # type: ignore[arg-type]
    if upto >= 4:
        kms.invalidate_key("ops", version=1, reason="laptop stolen")
    return answers


def test_the_capstone_solved_step_by_step_passes_every_check(
    hq: KeyCustodian, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = hq
    kms.establish_aes_key("ops")
    assert q1.check(kms)
    old = kms.encrypt_envelope("ops", capstone.REPORT, associated_data=CONTEXT)
    assert q2.check(kms, old)
    kms.rotate_key("ops")
    new = kms.rewrap_envelope("ops", old, associated_data=CONTEXT)
    assert q3.check(kms, old, new)
    kms.invalidate_key("ops", version=1, reason="laptop stolen")
    assert q4.check(kms, old)
    kms.generate_signing_key("auditor")
    checkpoint = kms.sign_audit_checkpoint("auditor")
    public = kms.export_public_key("auditor")
    path = kms.store_path
    assert path is not None
    kms.close()
    with KeyCustodian.open(path, passphrase=capstone.PASSPHRASE) as kms2:
        assert q5.check(kms2, checkpoint, public, new)
        assert q5.check(kms2, checkpoint, public, new)  # a check can be run again
        terminal = Terminal()
        reply = kms2.accept_key_exchange("link-2", terminal.public)
        assert q6.check(kms2, terminal, reply)
        assert q6.check(kms2, terminal, reply)
    assert capsys.readouterr().out.count("correct!") == 8


def test_q1_wants_a_stored_gcm_kek(hq: KeyCustodian, capsys: pytest.CaptureFixture[str]) -> None:
    kms = hq
    in_memory = KeyCustodian()
    in_memory.establish_aes_key("ops")
    assert not q1.check(in_memory)
    assert "in-memory custodian" in capsys.readouterr().out
    assert not q1.check(kms)
    assert "no key 'ops'" in capsys.readouterr().out
    kms.establish_aes_key("ops", mode="cbc")
    assert not q1.check(kms)
    assert "must be AES-256-GCM" in capsys.readouterr().out
    assert not q1.check("not a custodian")
    assert "pass your KeyCustodian" in capsys.readouterr().out


def test_q2_refuses_no_associated_data_other_data_and_tokens(
    hq: KeyCustodian, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = hq
    solve(kms, 1)
    for answer, says in (
        (____, "replace the blank"),
        (kms.encrypt_data_aes("ops", "x"), "is a text token"),
        (12345, "should be the envelope"),
        (kms.encrypt_envelope("ops", capstone.REPORT), f"bind associated_data={CONTEXT!r}"),
        (kms.encrypt_envelope("ops", b"other", associated_data=CONTEXT), "encrypt REPORT"),
        (b"KMSE\x01 but not an envelope", "not an envelope"),
    ):
        assert not q2.check(kms, answer)
        assert says in capsys.readouterr().out


def test_q3_refuses_no_rotation_a_fresh_envelope_and_the_old_version(
    hq: KeyCustodian, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = hq
    old = solve(kms, 2)["old"]
    fresh = kms.encrypt_envelope("ops", capstone.REPORT, associated_data=CONTEXT)
    assert not q3.check(kms, old, fresh)
    assert "still at version 1" in capsys.readouterr().out
    kms.rotate_key("ops")
    assert not q3.check(kms, old, old)
    assert "wrapped by version 1" in capsys.readouterr().out
    again = kms.encrypt_envelope("ops", capstone.REPORT, associated_data=CONTEXT)  # decrypt-and-encrypt: new bytes
    assert not q3.check(kms, old, again)
    assert "encrypted again" in capsys.readouterr().out


def test_q4_refuses_a_whole_key_revocation_no_reason_and_the_wrong_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (lambda k: k.invalidate_key("ops", version=1), "give a reason"),
        (lambda k: k.invalidate_key("ops", version=1, reason="   "), "give a reason"),
        (lambda k: k.invalidate_key("ops"), "Revoke only version 1"),
        (lambda k: None, "not revoked yet"),
    ]
    for act, says in cases:
        kms = KeyCustodian()
        answers = solve(kms, 3)
        act(kms)
        assert not q4.check(kms, answers["old"])
        assert says in capsys.readouterr().out
    kms = KeyCustodian()
    old = solve(kms, 2)["old"]
    kms.rotate_key("ops")
    kms.invalidate_key("ops", version=1, reason="stolen")  # before any rewrap: the envelope is stranded
    assert not q4.check(kms, old)
    assert "revoked before the envelope was rewrapped" in capsys.readouterr().out


def test_q5_refuses_no_restart_a_late_checkpoint_and_another_key(
    hq: KeyCustodian, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = hq
    answers = solve(kms, 4)
    kms.generate_signing_key("auditor")
    kms.generate_signing_key("other")
    checkpoint = kms.sign_audit_checkpoint("auditor")
    public, other = kms.export_public_key("auditor"), kms.export_public_key("other")
    assert not q5.check(kms, checkpoint, public, answers["new"])
    assert "never closed" in capsys.readouterr().out
    path = kms.store_path
    assert path is not None
    kms.close()
    with KeyCustodian.open(path, passphrase=capstone.PASSPHRASE) as kms2:
        late = kms2.sign_audit_checkpoint("auditor")
        for args, says in (
            ((checkpoint, other, answers["new"]), "does not extend the checkpoint"),
            ((late, public, answers["new"]), "before the restart"),
            (("not a checkpoint", public, answers["new"]), "sign_audit_checkpoint returned"),
            ((checkpoint, "no pem", answers["new"]), "export_public_key"),
            ((checkpoint, public, answers["new"]), None),
        ):
            verdict = q5.check(kms2, *args)
            out = capsys.readouterr().out
            assert bool(verdict) is (says is None), out
            if says:
                assert says in out
    assert not q5.check(KeyCustodian(), checkpoint, public, answers["new"])
    assert "reopened from the store" in capsys.readouterr().out


def test_hints_and_solutions_are_hidden_until_asked(capsys: pytest.CaptureFixture[str]) -> None:
    for exercise in EXERCISES:
        assert "Solution" not in repr(exercise)
        exercise.hint()
        exercise.solution()
    out = capsys.readouterr().out
    assert out.count("Hint:") == 6
    assert 'kms.invalidate_key("ops", version=1, reason="a copy was on the stolen terminal")' in out


def test_solutions_solve_the_exercises(capsys: pytest.CaptureFixture[str]) -> None:
    """Running each printed solution, in order as in the notebook, passes its check."""
    namespace: dict[str, object] = {
        "KeyCustodian": KeyCustodian,
        "path": capstone.new_store(),
        "PASSPHRASE": capstone.PASSPHRASE,
        "REPORT": capstone.REPORT,
        "Terminal": Terminal,
        **{f"q{n}": exercise for n, exercise in enumerate(EXERCISES, 1)},
    }
    for exercise in EXERCISES:
        exec(exercise.solution_code, namespace)
        assert "correct!" in capsys.readouterr().out, exercise.number
    namespace["kms2"].close()  # type: ignore[attr-defined]


def test_verdicts_display_nothing() -> None:
    kms = KeyCustodian()
    verdict = q1.check(kms)
    assert verdict._ipython_display_() is None  # type: ignore[func-returns-value]
    assert repr(verdict) == "Verdict(correct=False)"


@pytest.mark.parametrize("draw", [pictures.ecb_vs_cbc, pictures.paint_mixing, pictures.key_lifecycle])
def test_pictures_are_figures(draw: object) -> None:
    figure = draw()  # type: ignore[operator]
    assert isinstance(figure, Figure)
    assert figure.axes


def test_ecb_shows_the_picture_and_cbc_does_not() -> None:
    image = pictures.sample_image()
    panels = [ax.images[0].get_array() for ax in pictures.ecb_vs_cbc(image).axes]
    original, ecb, cbc = (bytes(p.astype("uint8").tobytes()) for p in panels)
    assert original == image.tobytes()
    blocks = lambda data: len({data[i : i + 16] for i in range(0, len(data), 16)})  # noqa: E731
    # Flat areas repeat blocks: ECB keeps the repeats, CBC leaves none.
    assert blocks(ecb) == blocks(original) < len(original) // 16
    assert blocks(cbc) == len(cbc) // 16


def test_keygen_times_measure_each_size() -> None:
    times = pictures.keygen_times(sizes=(2048,), repeats=(1,))
    assert list(times) == [2048]
    assert times[2048] > 0
    assert isinstance(pictures.plot_keygen_times(times), Figure)


def test_rewrite_log_makes_a_consistent_forgery_that_only_a_saved_head_catches(kms: KeyCustodian) -> None:
    from kmslib import AuditLog
    from kmslib.course import rewrite_log

    kms.establish_aes_key("k")
    with pytest.raises(DecryptionError):
        kms.decrypt_data_aes("k", "kms:v1:aes-256-gcm:AAAA")
    kms.rotate_key("k")
    saved = kms.audit_log.head
    exported = kms.audit_log.to_jsonl()
    forged = rewrite_log(exported, 1, outcome="ok")
    assert forged != exported
    assert '"outcome": "ok"' in forged.splitlines()[1]
    assert AuditLog.verify_jsonl(forged)  # consistent on its own
    assert not AuditLog.verify_jsonl(forged, head=saved)
    assert AuditLog.verify_jsonl(exported, head=saved)
    with pytest.raises(ValueError, match="no entry 7"):
        rewrite_log(exported, 7, outcome="ok")
    with pytest.raises(ValueError, match="not \\['hash'\\]"):
        rewrite_log(exported, 0, hash="0" * 64)


def texts(figure: Figure) -> str:
    return "\n".join(text.get_text() for ax in figure.axes for text in [*ax.texts, ax.title])


def test_cbc_chain_says_in_words_what_the_flip_does() -> None:
    shown = texts(pictures.cbc_chain())
    for words in ("IV (sent in the token)", "bit 3 flipped", "P1: bit 3 flipped", "P2: intact", "AES⁻¹", "no error"):
        assert words in shown, words


def test_gcm_diagram_shows_counter_mode_and_the_tag() -> None:
    shown = texts(pictures.gcm_diagram())
    for words in ("nonce ‖ 1", "nonce ‖ 2", "GHASH", "associated data", "tag", "never repeat", "SP 800-38D"):
        assert words in shown, words


def test_man_in_the_middle_shows_two_keys_and_both_legs() -> None:
    shown = texts(pictures.man_in_the_middle())
    for words in ("Mallory", "M1, posing as B", "M2, posing as A", "K1 = DH(a, M1)", "K2 = DH(b, M2)", "fingerprints"):
        assert words in shown, words


def marks(figure: Figure) -> int:
    """How many ✘ marks a chain picture shows (its legend explains the mark once)."""
    return texts(figure).replace("red ✘: it does not", "").count("✘")


def test_audit_chain_marks_an_edit_and_the_saved_head(kms: KeyCustodian) -> None:
    import dataclasses

    from kmslib.course import rechain

    kms.establish_aes_key("k")
    kms.rotate_key("k")
    kms.encrypt_data_aes("k", "x")
    entries = list(kms.audit_log)
    head = entries[1].hash
    whole = texts(pictures.audit_chain(entries, saved_head=head))
    assert marks(pictures.audit_chain(entries, saved_head=head)) == 0
    assert "▲ the saved head" in whole
    assert f"hash {entries[2].hash[:10]}" in whole
    edited = [*entries[:1], dataclasses.replace(entries[1], outcome="DecryptionError"), *entries[2:]]
    assert "✘ edited" in texts(pictures.audit_chain(edited))
    relinked = [entries[0], dataclasses.replace(entries[1], prev_hash="f" * 64), entries[2]]
    assert marks(pictures.audit_chain(relinked)) == 2  # the link, and the entry (prev_hash is in its hash)
    forged = rechain([*entries[:1], dataclasses.replace(entries[1], outcome="DecryptionError"), *entries[2:]])
    shown = texts(pictures.audit_chain(forged, saved_head=head))
    assert marks(pictures.audit_chain(forged, saved_head=head)) == 0  # consistent on its own...
    assert "the saved head is not among these entries" in shown  # ...but not what the auditor saved
    assert "#2" in texts(pictures.audit_chain(entries, last=1))
    assert "#0" not in texts(pictures.audit_chain(entries, last=1))


def test_keygen_samples_and_the_whiskers() -> None:
    samples = pictures.keygen_samples(sizes=(2048,), repeats=(3,))
    assert list(samples) == [2048]
    assert len(samples[2048]) == 3
    assert all(seconds > 0 for seconds in samples[2048])
    figure = pictures.plot_keygen_times(samples)
    ax = figure.axes[0]
    (bar,) = ax.patches
    assert bar.get_height() == pytest.approx(sorted(samples[2048])[1])  # the median of three
    assert "fastest to slowest" in ax.get_title()
    assert "keys generated: 3" in ax.get_xlabel()
    whiskers = [line for collection in ax.collections for line in collection.get_segments()]
    assert whiskers
    (low, high) = whiskers[0][:, 1].min(), whiskers[0][:, 1].max()
    assert low == pytest.approx(min(samples[2048]))
    assert high == pytest.approx(max(samples[2048]))


def test_q6_wants_the_terminals_exchange_accepted_in_the_store(
    hq: KeyCustodian, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = hq
    terminal, stranger = Terminal(), Terminal()
    assert not q6.check(KeyCustodian(), terminal, None)
    assert "reopened store" in capsys.readouterr().out
    assert not q6.check(kms, "terminal", None)
    assert "Terminal()" in capsys.readouterr().out
    assert not q6.check(kms, terminal, None)
    assert "no key 'link-2'" in capsys.readouterr().out
    reply = kms.accept_key_exchange("link-2", stranger.public)  # a reply made for another terminal's key
    assert not q6.check(kms, terminal, reply)
    assert "different keys" in capsys.readouterr().out
    other = Terminal()
    assert not q6.check(kms, other, b"not a reply")
    assert "cannot finish the exchange" in capsys.readouterr().out
