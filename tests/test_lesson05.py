"""Lesson 05 (key states and cryptoperiods): every checker judges outcomes, and its picture follows the library.

Each exercise: the published solution passes, two other correct answers pass, lazy or confused wrong answers
are refused with a message that says where to look (no Python internals), checking again gives the same
verdict, and a closed custodian is said to be closed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_lessons import right, run_solution, same_twice, wrong

from kmslib import KeyCustodian, KeyStateError, KMSError
from kmslib.clock import classroom_clock
from kmslib.course import lesson05
from kmslib.course.lesson05 import payments, q1, q2, q3, q4, scenarios

NAMES = {
    "timedelta": timedelta,
    "datetime": datetime,
    "UTC": UTC,
    "classroom_clock": classroom_clock,
    "KeyStateError": KeyStateError,
}


def solution(exercise: Any, **names: Any) -> dict[str, Any]:
    return run_solution(lesson05, exercise, **NAMES, **names)


@pytest.mark.parametrize("exercise", [q1, q2, q3, q4])
def test_a_closed_custodian_is_said_to_be_closed(exercise: Any) -> None:
    closed = KeyCustodian()
    closed.close()
    wrong(exercise, closed, because="closed")
    wrong(exercise, "kms", because="pass your KeyCustodian")


# ---------------------------------------------------------------- q1


def test_q1_the_solution_and_other_correct_answers_pass() -> None:
    right(q1, solution(q1, kms=KeyCustodian())["kms"])
    kms = KeyCustodian()
    kms.establish_aes_key("kiosk")
    kms.encrypt_data_aes("kiosk", "shift log")
    kms.suspend_key("kiosk", reason="desk incident, checking the logs")
    kms.resume_key("kiosk")
    right(q1, kms)
    again = KeyCustodian()  # suspended and resumed twice, the reason given the second time
    again.establish_aes_key("kiosk")
    again.suspend_key("kiosk")
    again.resume_key("kiosk")
    again.suspend_key("kiosk", reason="второй инцидент расследуется")
    again.resume_key("kiosk")
    right(q1, again)


def test_q1_refuses_destroying_a_dead_end_state_a_missing_step_and_no_reason() -> None:
    wrong(q1, KeyCustodian(), because="no key 'kiosk'")
    kms = KeyCustodian()
    kms.establish_aes_key("kiosk")
    wrong(q1, kms, because="no suspension")
    kms.suspend_key("kiosk", reason="x")
    wrong(q1, kms, because="still suspended")
    kms.resume_key("kiosk")
    wrong(q1, kms, because="reason that says something")
    revoked = KeyCustodian()
    revoked.establish_aes_key("kiosk")
    revoked.invalidate_key("kiosk", reason="front desk incident")
    wrong(q1, revoked, because="destroys it")
    for move in ("deactivate_key", "mark_compromised"):
        stuck = KeyCustodian()
        stuck.establish_aes_key("kiosk")
        getattr(stuck, move)("kiosk", reason="front desk incident")
        wrong(q1, stuck, because="no move leads back to active")


# ---------------------------------------------------------------- q2


def test_q2_the_solution_and_other_correct_answers_pass() -> None:
    ok, said = same_twice(q2, solution(q2)["lab"])
    assert ok, said
    assert "uses version 2" in said  # the praise is the library's behaviour
    assert "version 1 is deactivated" in said
    lab = payments()
    lab.set_rotation_policy(
        "payments", rotate_every=timedelta(hours=2160), deactivate_after=timedelta(weeks=52, days=1), max_uses=10**6
    )
    right(q2, lab)
    lab = payments()  # a wrong try first, then the right policy: the outcome is judged
    lab.set_rotation_policy("payments", rotate_every=timedelta(days=30))
    lab.set_rotation_policy(
        "payments", max_uses=1_000_000, deactivate_after=timedelta(days=365), rotate_every=timedelta(90)
    )
    right(q2, lab)


def test_q2_refuses_lazy_and_confused_policies() -> None:
    wrong(q2, KeyCustodian(), because="payments() gave you")
    throwaway = KeyCustodian()  # the right policy, on a key of the student's own making
    throwaway.establish_aes_key("payments")
    throwaway.set_rotation_policy(
        "payments", rotate_every=timedelta(days=90), deactivate_after=timedelta(days=365), max_uses=1_000_000
    )
    wrong(q2, throwaway, because="payments() gave you")
    wrong(q2, payments(), because="no rotation policy")
    lab = payments()
    with pytest.raises(KMSError):
        lab.set_rotation_policy("payments", rotate_every=90, deactivate_after=365, max_uses=1_000_000)  # type: ignore[arg-type]
    wrong(q2, lab, because="timedelta(days=...)")
    lab = payments()
    lab.set_rotation_policy(
        "payments", rotate_every=timedelta(days=365), deactivate_after=timedelta(days=90), max_uses=1_000_000
    )
    wrong(q2, lab, because="swapped")
    lab = payments()
    lab.set_rotation_policy(
        "payments", rotate_every=timedelta(hours=90), deactivate_after=timedelta(days=365), max_uses=1_000_000
    )
    wrong(q2, lab, because="rotate_every is 3.75 days")
    lab = payments()
    lab.set_rotation_policy("payments", rotate_every=timedelta(days=90), max_uses=1_000_000)
    wrong(q2, lab, because="deactivate_after is nothing")
    lab = payments()
    lab.set_rotation_policy("payments", rotate_every=timedelta(days=90), deactivate_after=timedelta(days=365))
    wrong(q2, lab, because="max_uses is None")
    lab = payments()
    lab.set_rotation_policy(
        "payments", rotate_every=timedelta(days=90), deactivate_after=timedelta(days=365), max_uses=1_000_000
    )
    lab.deactivate_key("payments")
    wrong(q2, lab, because="payments' is deactivated")


# ---------------------------------------------------------------- q3


def test_q3_the_solution_and_other_correct_answers_pass() -> None:
    right(q3, solution(q3)["lab"])
    lab = scenarios()  # in another order, the billing key deactivated without a reason
    lab.mark_compromised("laptop-raj", reason="laptop stolen from Raj's car")
    lab.deactivate_key("billing-2025")
    lab.suspend_key("badge-ana", reason="parental leave until May")
    right(q3, lab)
    lab = scenarios()  # a wrong try first (suspending the stolen key), then the right state
    lab.suspend_key("laptop-raj", reason="laptop stolen")
    lab.mark_compromised("laptop-raj", reason="laptop stolen")
    lab.suspend_key("badge-ana", reason="on leave")
    lab.deactivate_key("billing-2025", reason="period over")
    right(q3, lab)


def scenario(**moves: tuple[str, str]) -> KeyCustodian:
    """scenarios(), with each key moved by (method, reason)."""
    lab = scenarios()
    for key_id, (method, reason) in moves.items():
        getattr(lab, method)(key_id.replace("_", "-"), reason=reason)
    return lab


def test_q3_refuses_the_same_state_thrice_a_throwaway_custodian_and_revoking_the_stolen_key() -> None:
    wrong(q3, scenarios(), because="badge-ana still works")
    for method, says in (
        ("suspend_key", "a suspended key refuses decryption too"),
        ("deactivate_key", "a deactivated key never becomes active again"),
        ("mark_compromised", "nothing says badge-ana leaked"),
        ("invalidate_key", "badge-ana was revoked"),
    ):
        same = scenario(
            badge_ana=(method, "just in case"),
            billing_2025=(method, "just in case"),
            laptop_raj=(method, "just in case"),
        )
        wrong(q3, same, because=says)
    throwaway = KeyCustodian()
    for key_id, method in (
        ("badge-ana", "suspend_key"),
        ("billing-2025", "deactivate_key"),
        ("laptop-raj", "mark_compromised"),
    ):
        throwaway.establish_aes_key(key_id)
        getattr(throwaway, method)(key_id, reason="as the task says")
    wrong(q3, throwaway, because="scenarios() gave you")
    revoked = scenario(
        badge_ana=("suspend_key", "on leave"),
        billing_2025=("deactivate_key", "period over"),
        laptop_raj=("invalidate_key", "laptop stolen"),
    )
    wrong(q3, revoked, because="the investigators need to read")
    swapped = scenario(
        badge_ana=("deactivate_key", "on leave"),
        billing_2025=("suspend_key", "period over"),
        laptop_raj=("mark_compromised", "laptop stolen"),
    )
    wrong(q3, swapped, because="1 more of the three")
    deactivated = scenario(
        badge_ana=("suspend_key", "on leave"),
        billing_2025=("deactivate_key", "over"),
        laptop_raj=("deactivate_key", "laptop stolen"),
    )
    wrong(q3, deactivated, because="still decrypts for whoever asks")
    mute = scenario(
        badge_ana=("suspend_key", "x"),
        billing_2025=("deactivate_key", "over"),
        laptop_raj=("mark_compromised", "stolen"),
    )
    wrong(q3, mute, because="give badge-ana's change a reason")


# ---------------------------------------------------------------- q4


def exam(
    *,
    activate_at: datetime | None = datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
    days: tuple[int, ...] = (0, 59, 0, 0, 0),
    **policy: Any,
) -> KeyCustodian:
    """A student's answer to q4: the key made, a policy set, then one encryption after each clock step."""
    clock = classroom_clock()
    kms = KeyCustodian(clock=clock)
    kms.establish_aes_key("exam-2026", activate_at=activate_at)
    kms.set_rotation_policy("exam-2026", **(policy or {"max_uses": 3}))
    for day in days:
        clock.advance(timedelta(days=day))
        try:
            kms.encrypt_data_aes("exam-2026", "question 1")
        except KeyStateError:
            pass
    return kms


def test_q4_the_solution_and_other_correct_answers_pass() -> None:
    right(q4, solution(q4)["exam"])
    right(q4, exam(days=(10, 20, 29, 0, 0, 0, 0, 0)))  # refused twice before March, and twice at the limit
    late = exam(days=(0, 100, 0, 0, 0))  # first used in April: still never before 1 March
    right(q4, late)


def test_q3_a_version_changed_alone_is_not_the_whole_key() -> None:
    lab = scenarios()
    lab.suspend_key("badge-ana", reason="on leave until May")
    lab.deactivate_key("billing-2025", reason="period over")
    lab.mark_compromised("laptop-raj", version=1, reason="laptop stolen")
    wrong(q3, lab, because="only version 1 of laptop-raj changed")


def test_q4_a_date_already_past_on_the_custodians_clock_is_named() -> None:
    kms = KeyCustodian()  # the system clock: 1 March 2026 is not ahead of it
    kms.establish_aes_key("exam-2026", activate_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    wrong(q4, kms, because="a time still ahead on the custodian's clock")


def test_q4_refuses_each_missing_step() -> None:
    wrong(q4, KeyCustodian(), because="no key 'exam-2026'")
    wrong(q4, exam(activate_at=None), because="active from the moment it was made")
    wrong(q4, exam(days=(0, 30, 0, 0, 0)), because="still pre-activation")
    early = exam(activate_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC), days=(0, 40, 0, 0, 0))
    wrong(q4, early, because="become active on 1 February")
    wrong(q4, exam(days=(59, 0, 0, 0)), because="no encryption tried before")
    wrong(q4, exam(max_uses=4), because="at most 3 encryptions")
    wrong(q4, exam(max_uses=3, rotate_every=timedelta(days=365)), because="The task asks for no rotation")
    wrong(q4, exam(days=(0, 59, 0, 0)), because="no refusal after the 3rd")
    wrong(q4, exam(days=(0, 59)), because="1 encryption(s)")


# ---------------------------------------------------------------- the quiz and the picture


def test_the_quiz_has_one_right_answer_each() -> None:
    quiz = lesson05.quiz
    for number, question in enumerate(quiz.questions, 1):
        assert quiz.answer(number, question.answer)
        assert all(not quiz.answer(number, other) for other in question.choices if other != question.answer)


def test_the_state_picture_draws_every_transition_of_the_library_and_no_other() -> None:
    from kmslib.course import pictures
    from kmslib.states import KEY_TRANSITIONS, STATES

    figure = pictures.key_states()
    drawn = {tuple(str(p.get_gid()).split("->")) for ax in figure.axes for p in ax.patches if p.get_gid()}
    assert drawn == {(a, b) for a in KEY_TRANSITIONS for b in KEY_TRANSITIONS[a]}
    shown = {text.get_text() for ax in figure.axes for text in ax.texts}
    assert all(any(state in words for words in shown) for state in STATES)
