"""kmslib.course: the exercise checkers, the shared helpers and the pictures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from matplotlib.figure import Figure

from kmslib import DecryptionError, KeyCustodian, inspect_token
from kmslib.course import COURSE, ____, classroom_clock, pictures, tamper
from kmslib.course.capstone import q1


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
