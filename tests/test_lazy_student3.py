"""A lazy, confused or cheating student against lesson 05's checked exercises (key states) and the capstone's q2.

Each test is a wrong answer some checker once accepted, a right one it refused or misjudged in words, or an
answer it must keep judging alike: a state or a policy poked into a key record, a reason borrowed from another
change, a refusal for another cause than the one the task asks to see, the same state three times, the right
steps in the wrong order, a clock moved before or after the policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from test_capstone import incident, respond_archive, revoke
from test_lazy_student2 import accepted, refused, said_twice

from kmslib import KeyCustodian, KeyStateError, KMSError
from kmslib.clock import classroom_clock
from kmslib.course import capstone
from kmslib.course.lesson05 import payments, q1, q2, q3, q4, scenarios
from kmslib.states import RotationPolicy


def poke(kms: KeyCustodian, key_id: str, **life: Any) -> None:
    """Change a key's lifecycle (its state, its policy) by hand, as a cheating student would."""
    record = kms._keys[key_id]
    record.life = dataclasses.replace(record.life, **life)


# ---------------------------------------------------------------- q1: suspend, then resume


def kiosk(*moves: Callable[[KeyCustodian], object]) -> KeyCustodian:
    kms = KeyCustodian()
    kms.establish_aes_key("kiosk")
    for move in moves:
        try:
            move(kms)
        except KMSError:
            pass
    return kms


def test_q1_a_reason_borrowed_from_a_version_revocation_is_not_the_suspensions() -> None:
    # Suspended with no reason, then version 1 revoked with one: key_info's reason is the revocation's.
    kms = kiosk(
        lambda k: k.suspend_key("kiosk"),
        lambda k: k.resume_key("kiosk"),
        lambda k: k.rotate_key("kiosk"),
        lambda k: k.invalidate_key("kiosk", version=1, reason="front desk incident"),
    )
    assert kms.key_info("kiosk").reason == "front desk incident"
    refused(q1, kms, because="give the suspension a reason")
    kms.suspend_key("kiosk", reason="front desk incident under investigation")  # told where to look, it passes
    kms.resume_key("kiosk")
    accepted(q1, kms)


def test_q1_a_key_whose_newest_version_cannot_work_does_not_work_again() -> None:
    kms = kiosk(
        lambda k: k.suspend_key("kiosk", reason="front desk incident"),
        lambda k: k.resume_key("kiosk"),
        lambda k: k.mark_compromised("kiosk", version=1, reason="front desk incident"),
    )
    with pytest.raises(KeyStateError):
        kms.encrypt_data_aes("kiosk", "shift log")
    refused(q1, kms, because="version 1 of 'kiosk' is compromised")


def test_q1_held_wrong_answers() -> None:
    incident = "front desk incident"
    refused(q1, None, because="pass your KeyCustodian, not None")
    refused(q1, 42, because="pass your KeyCustodian, not int")
    refused(q1, kiosk(lambda k: k.resume_key("kiosk")), because="no suspension")  # resumed before suspending
    wrong_order = kiosk(lambda k: k.resume_key("kiosk"), lambda k: k.suspend_key("kiosk", reason=incident))
    refused(q1, wrong_order, because="still suspended")
    refused(q1, KeyCustodian(), because="no key")
    partial = kiosk(lambda k: k.suspend_key("kiosk", reason="x"), lambda k: k.resume_key("kiosk"))
    refused(q1, partial, because="reason that says something")
    poked = kiosk()
    poke(poked, "kiosk", state="suspended")  # a suspension poked into the record, then a real resume
    poked._keys["kiosk"].publish()
    poked._keys["kiosk"].reason = incident
    poked.resume_key("kiosk")
    refused(q1, poked, because="no suspension")
    lesson = KeyCustodian(clock=classroom_clock())  # the lesson's own kms: payments and launch, no kiosk
    lesson.establish_aes_key("payments")
    lesson.suspend_key("payments", reason=incident)
    lesson.resume_key("payments")
    refused(q1, lesson, because="no key 'kiosk'")
    later = KeyCustodian(clock=classroom_clock())  # made to start later: suspension is refused
    later.establish_aes_key("kiosk", activate_at=datetime(2026, 6, 1, tzinfo=UTC))
    with pytest.raises(KeyStateError):
        later.suspend_key("kiosk", reason=incident)
    refused(q1, later, because="no suspension")
    refused(
        q1,
        kiosk(lambda k: k.suspend_key("kiosk", reason="1234 5678"), lambda k: k.resume_key("kiosk")),
        because="reason that says something",
    )


def test_q1_held_correct_answers() -> None:
    accepted(
        q1, kiosk(lambda k: k.suspend_key("kiosk", reason="incident at the desk"), lambda k: k.resume_key("kiosk"))
    )
    rsa = KeyCustodian()  # another kind of key: suspension is a state of any key
    rsa.generate_rsa_pair("kiosk")
    rsa.suspend_key("kiosk", reason="front desk incident")
    rsa.resume_key("kiosk")
    accepted(q1, rsa)


# ---------------------------------------------------------------- q2: a policy that meets a cryptoperiod

RIGHT = {"rotate_every": timedelta(days=90), "deactivate_after": timedelta(days=365), "max_uses": 1_000_000}


def lab_with(*policies: dict[str, Any]) -> KeyCustodian:
    lab = payments()
    for policy in policies:
        try:
            lab.set_rotation_policy("payments", **policy)
        except KMSError:
            pass
    return lab


def test_q2_a_policy_poked_into_the_key_record_is_no_policy() -> None:
    lab = payments()
    poke(lab, "payments", policy=RotationPolicy(**RIGHT))
    assert lab.key_info("payments").policy == RotationPolicy(**RIGHT)
    refused(q2, lab, because="set_rotation_policy")


def test_q2_a_period_a_second_off_is_not_said_to_be_the_right_one() -> None:
    lab = lab_with({**RIGHT, "rotate_every": timedelta(days=90, seconds=1)})
    ok, said = said_twice(q2, lab)
    assert not ok, said
    assert "rotate_every is 90 days:" not in said, said
    assert "90 days, 0:00:01" in said, said


def test_q2_a_max_uses_out_of_range_is_not_told_to_be_an_int() -> None:
    refused(q2, lab_with({**RIGHT, "max_uses": 10**100}), because="from 1 to 2**32")


def test_q2_held_wrong_answers() -> None:
    refused(q2, scenarios(), because="payments() gave you")
    refused(q2, lab_with({**RIGHT, "rotate_every": "90 days"}), because="timedelta(days=...)")
    refused(q2, lab_with({**RIGHT, "max_uses": True}), because="timedelta(days=...)")
    refused(q2, lab_with({**RIGHT, "max_uses": 1e6}), because="timedelta(days=...)")
    refused(q2, lab_with({**RIGHT, "rotate_every": timedelta.max}), because="set_rotation_policy refused")
    refused(q2, lab_with({**RIGHT, "deactivate_after": timedelta(weeks=52)}), because="deactivate_after is 364 days")
    refused(q2, lab_with(RIGHT, {}), because="no rotation policy")  # the right policy, then removed
    refused(
        q2,
        lab_with({"rotate_every": timedelta(days=90)}, {"deactivate_after": timedelta(days=365)}),
        because="rotate_every is nothing",
    )  # one period per call: the second replaces the first
    lesson = KeyCustodian(clock=classroom_clock())  # the lesson's own example: its payments key
    lesson.establish_aes_key("payments")
    lesson.set_rotation_policy("payments", **RIGHT)
    refused(q2, lesson, because="payments() gave you")
    revoked = lab_with(RIGHT)
    revoked.invalidate_key("payments", reason="card data moved")
    refused(q2, revoked, because="'payments' is revoked")


def test_q2_held_correct_answers_expressed_otherwise() -> None:
    accepted(
        q2,
        lab_with(
            {"rotate_every": timedelta(weeks=12, days=6), "deactivate_after": timedelta(hours=8760), "max_uses": 10**6}
        ),
    )
    accepted(q2, lab_with({"rotate_every": timedelta(days=90)}, RIGHT))
    accepted(q2, lab_with(RIGHT, RIGHT, RIGHT))  # the same policy three times is still that policy
    again = lab_with(RIGHT)  # suspended for a moment and resumed: active, with its policy
    again.suspend_key("payments", reason="card reader audit")
    again.resume_key("payments")
    accepted(q2, again)


# ---------------------------------------------------------------- q3: the right state for each situation


def test_q3_states_poked_into_the_key_records_are_no_decisions() -> None:
    lab = scenarios()
    for key_id, state, reason in (
        ("badge-ana", "suspended", "Ana on leave until May"),
        ("billing-2025", "deactivated", None),
        ("laptop-raj", "compromised", "laptop stolen yesterday"),
    ):
        poke(lab, key_id, state=state)
        lab._keys[key_id].reason = reason
    refused(q3, lab, because="the audit log shows no suspend_key('badge-ana')")


def test_q3_one_state_poked_among_real_moves_is_named() -> None:
    lab = scenarios()
    lab.suspend_key("badge-ana", reason="on leave until May")
    lab.mark_compromised("laptop-raj", reason="laptop stolen yesterday")
    poke(lab, "billing-2025", state="deactivated")
    refused(q3, lab, because="no deactivate_key('billing-2025')")


def test_q3_held_wrong_answers() -> None:
    lab = scenarios()
    lab.suspend_key("badge-ana", reason="on leave")
    lab.resume_key("badge-ana")  # suspended, then resumed by mistake
    lab.deactivate_key("billing-2025", reason="period over")
    lab.mark_compromised("laptop-raj", reason="laptop stolen")
    refused(q3, lab, because="badge-ana still works")
    lab = scenarios()  # the stolen laptop's key deactivated first, then marked: still right
    lab.suspend_key("badge-ana", reason="on leave")
    lab.deactivate_key("billing-2025")
    lab.deactivate_key("laptop-raj", reason="laptop stolen")
    lab.mark_compromised("laptop-raj", reason="laptop stolen")
    accepted(q3, lab)
    lab = scenarios()  # billing's versions rotated and the old one deactivated, not the key
    lab.rotate_key("billing-2025")
    lab.deactivate_key("billing-2025", version=1, reason="period over")
    lab.suspend_key("badge-ana", reason="on leave")
    lab.mark_compromised("laptop-raj", reason="laptop stolen")
    refused(q3, lab, because="only version 1 of billing-2025 changed")
    refused(q3, None, because="pass your KeyCustodian, not None")
    refused(q3, payments(), because="scenarios() gave you")


# ---------------------------------------------------------------- q4: pre-activation and a usage limit

MARCH = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def encrypt(plaintext: object = "question 1") -> Callable[[KeyCustodian], object]:
    return lambda kms: kms.encrypt_data_aes("exam-2026", plaintext)  # type: ignore[arg-type]


def exam(
    *steps: int | Callable[[KeyCustodian], object],
    activate_at: datetime | None = MARCH,
    policy: dict[str, Any] | None = None,
) -> KeyCustodian:
    """A student's answer to q4: the key, its policy, then each step (days on the clock, or a call)."""
    clock = classroom_clock()
    kms = KeyCustodian(clock=clock)
    kms.establish_aes_key("exam-2026", activate_at=activate_at)
    if policy is None:
        kms.set_rotation_policy("exam-2026", max_uses=3)
    elif policy:
        kms.set_rotation_policy("exam-2026", **policy)
    for step in steps:
        if isinstance(step, int):
            clock.advance(timedelta(days=step))
            continue
        try:
            step(kms)
        except KMSError:
            pass
    return kms


def test_q4_a_try_refused_for_its_plaintext_is_not_a_try_refused_for_the_date() -> None:
    kms = exam(encrypt(None), 59, encrypt(), encrypt(), encrypt(), encrypt())
    refused(q4, kms, because="refused for its arguments (ArgumentTypeError), not for the date")


def test_q4_a_refusal_for_its_plaintext_after_the_third_is_not_the_limit() -> None:
    refused(q4, exam(encrypt(), 59, encrypt(), encrypt(), encrypt(), encrypt(None)), because="no refusal after")


def test_q4_a_limit_poked_into_the_key_record_is_no_policy() -> None:
    def poked(kms: KeyCustodian) -> None:
        poke(kms, "exam-2026", policy=RotationPolicy(max_uses=3))

    kms = exam(encrypt(), 59, poked, encrypt(), encrypt(), encrypt(), encrypt(None), policy={})
    encrypt()(kms)  # the poked limit limits nothing: a fourth encryption is made
    refused(q4, kms, because="set its policy's max_uses")


def test_q4_encryptions_made_as_envelopes_are_encryptions() -> None:
    envelope = lambda kms: kms.encrypt_envelope("exam-2026", b"question 1")  # noqa: E731
    accepted(q4, exam(envelope, 59, envelope, encrypt(), envelope, encrypt()))


def test_q4_held_wrong_answers() -> None:
    refused(
        q4,
        exam(
            encrypt(),
            59,
            encrypt(),
            encrypt(),
            encrypt(),
            encrypt(),
            policy={"max_uses": 3, "rotate_every": timedelta(hours=1)},
        ),
        because="no rotation",
    )
    refused(q4, exam(59, encrypt(), encrypt(), encrypt(), encrypt()), because="no encryption tried before")
    refused(q4, exam(encrypt(), encrypt(), encrypt(), 59), because="0 encryption(s) since")  # the clock moved last
    refused(
        q4,
        exam(encrypt(), 59, encrypt(), encrypt(), encrypt(), encrypt(), activate_at=None),
        because="active from the moment it was made",
    )
    refused(
        q4,
        exam(
            encrypt(),
            30,
            encrypt(),
            29,
            encrypt(),
            encrypt(),
            encrypt(),
            activate_at=datetime(2026, 1, 31, 9, 0, tzinfo=UTC),
        ),
        because="become active on 31 January",
    )
    refused(
        q4,
        exam(encrypt(), 59, encrypt(), encrypt(), encrypt(), encrypt(), policy={"max_uses": 4}),
        because="at most 3 encryptions",
    )
    refused(q4, exam(encrypt(), 59, encrypt(), encrypt(), encrypt(), encrypt(), policy={}), because="max_uses")
    refused(
        q4,
        exam(encrypt(), 59, encrypt(), encrypt(), lambda k: k.rotate_key("exam-2026"), encrypt(), encrypt()),
        because="rotated",
    )
    for odd in (None, "exam", 3, True, float("nan")):
        refused(q4, odd, because="pass your KeyCustodian")


def test_q4_held_correct_answers() -> None:
    tz = timezone(timedelta(hours=1))  # the same moment, written in Paris time
    accepted(
        q4,
        exam(
            encrypt(),
            59,
            encrypt(),
            encrypt(),
            encrypt(),
            encrypt(),
            activate_at=datetime(2026, 3, 1, 10, 0, tzinfo=tz),
        ),
    )
    accepted(
        q4,
        exam(
            encrypt(b"q1"),
            59,
            encrypt(b"q2"),
            encrypt(b"q3"),
            encrypt(b"q4"),
            encrypt(b"q5"),
            policy={"max_uses": 3, "deactivate_after": timedelta(days=30)},
        ),
    )
    late = exam(encrypt(), 59, encrypt(), encrypt(), encrypt(), policy={})  # the limit set after the third
    late.set_rotation_policy("exam-2026", max_uses=3)
    with pytest.raises(KeyStateError):
        encrypt()(late)
    accepted(q4, late)


# ---------------------------------------------------------------- capstone q2: revoke, rotate, or leave alone


def test_capstone_q2_archive_versions_marked_compromised_then_poked_revoked_are_not_revoked() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    archive = respond_archive(hq, dict(case.archive), how="mark_compromised")
    hq._keys["archive"].revoked_versions = frozenset({2, 3})
    refused(capstone.q2, hq, archive, because="no invalidate_key('archive', version=2)")


@pytest.mark.parametrize("move", ["suspend_key", "deactivate_key", "mark_compromised"])
@pytest.mark.parametrize("key_id", ["link-2", "auditor"])
def test_capstone_q2_a_key_left_alone_in_another_state_is_called_by_its_state(move: str, key_id: str) -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    archive = respond_archive(hq, dict(case.archive))
    getattr(hq, move)(key_id, reason="just in case")
    state = hq.key_info(key_id).state
    refused(capstone.q2, hq, archive, because=f"{key_id!r} is {state}, but")
    if move == "suspend_key":  # a suspension is lifted: no need to start over
        _, said = said_twice(capstone.q2, hq, archive)
        assert "start over" not in said, said
        hq.resume_key(key_id)
        accepted(capstone.q2, hq, archive)


@pytest.mark.parametrize("move", ["suspend_key", "deactivate_key", "mark_compromised"])
def test_capstone_q2_the_whole_archive_kek_in_another_state_is_called_by_its_state(move: str) -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    archive = respond_archive(hq, dict(case.archive))
    getattr(hq, move)("archive", reason="just in case")
    state = hq.key_info("archive").state
    ok, said = said_twice(capstone.q2, hq, archive)
    assert not ok, said
    assert f"'archive' is {state}" in said, said
    assert "was revoked" not in said, said


def test_capstone_q2_held() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", how="mark_compromised", reason="x")
    refused(capstone.q2, hq, respond_archive(hq, dict(case.archive)), because="compromise a reason")
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", how="mark_compromised", reason="shop-1 terminal stolen")
    accepted(capstone.q2, hq, respond_archive(hq, dict(case.archive)))
    case = incident()  # suspended first, then marked compromised: the outcome is judged
    hq = case.hq
    hq.suspend_key("link-1", reason="terminal missing")
    revoke(hq, "link-1", how="mark_compromised", reason="shop-1 terminal stolen")
    archive = respond_archive(hq, dict(case.archive))
    accepted(capstone.q2, hq, archive)
    for odd in (None, "archive", 10**100, [archive], {name: memoryview(env) for name, env in archive.items()}):
        ok, said = said_twice(capstone.q2, hq, odd)
        assert not ok, said
    refused(capstone.q2, hq, case.archive, because="which is revoked")  # the archive before the rewrap
    other = incident()
    refused(capstone.q2, other.hq, archive, because="link-1 still works")  # a fresh incident, this archive
    refused(capstone.q2, KeyCustodian(), archive, because="pass hq")
    case = incident()  # right steps, wrong order: versions revoked before the rewrap
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    hq.rotate_key("archive")
    for version in (2, 3):
        revoke(hq, "archive", version=version, reason="copies were on the stolen terminal")
    lost = {name: bytes(env) for name, env in case.archive.items()}
    refused(capstone.q2, hq, lost, because="Rewrap before you revoke")
    case = incident()  # only the link: partial work
    revoke(case.hq, "link-1", reason="shop-1 terminal stolen")
    refused(capstone.q2, case.hq, case.archive, because="still opens the copies")


def test_capstone_q2_shop_2s_link_marked_compromised_version_by_version_is_not_left_alone() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    archive = respond_archive(hq, dict(case.archive))
    hq.mark_compromised("link-2", version=1, reason="just in case")  # the key stays active; its only version does not
    assert hq.key_info("link-2").active
    refused(capstone.q2, hq, archive, because="version 1 of 'link-2' is compromised")


def test_q2_a_policy_on_a_key_whose_newest_version_cannot_encrypt_is_not_a_key_in_use() -> None:
    lab = lab_with(RIGHT)
    lab.mark_compromised("payments", version=1, reason="card reader tampered")
    with pytest.raises(KeyStateError):
        lab.encrypt_data_aes("payments", "card 5500")
    refused(q2, lab, because="version 1 of 'payments' is compromised")
    lab.rotate_key("payments")  # as the feedback says: a version that works, and the policy kept
    accepted(q2, lab)


def test_capstone_q2_odd_archives_get_words() -> None:
    case = incident()
    hq = case.hq
    revoke(hq, "link-1", reason="shop-1 terminal stolen")
    archive = respond_archive(hq, dict(case.archive))
    nested: object = b""
    for _ in range(10_000):
        nested = [nested]
    for odd, says in (
        ({name: nested for name in archive}, "should be an envelope"),
        ({name: float("nan") for name in archive}, "should be an envelope"),
        ({**archive, "extra": b"KMSE"}, "every one of head office's envelopes"),
        (dict(list(archive.items())[:2]), "every one of head office's envelopes"),
        ({name: archive[other] for name, other in zip(archive, reversed(list(archive)), strict=True)}, "does not open"),
    ):
        refused(capstone.q2, hq, odd, because=says)
    accepted(capstone.q2, hq, {name: bytearray(env) for name, env in archive.items()})


def test_q4_a_key_activated_on_the_wrong_day_is_refused_even_if_first_used_on_1_march() -> None:
    clock = classroom_clock()
    exam = KeyCustodian(clock=clock)
    exam.establish_aes_key("exam-2026", activate_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC))  # February, not March
    exam.set_rotation_policy("exam-2026", max_uses=3)
    for day in (0, 59, 0, 0, 0):
        clock.advance(timedelta(days=day))
        try:
            exam.encrypt_data_aes("exam-2026", "question 1")
        except KeyStateError:
            pass
    refused(q4, exam, because="1 March")
