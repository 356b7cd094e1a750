"""Lesson 05 (key states and cryptoperiods): four checked exercises, of rising difficulty, and the quiz.

- ``q1`` (recall): suspend a key while an incident is investigated, then resume it;
- ``q2`` (apply): give a key the rotation policy that meets a stated cryptoperiod;
- ``q3`` (apply): put three keys, each in its own situation, in the state each needs;
- ``q4`` (build): a key that may not be used before a date, and refuses at its usage limit.

The states and their names are NIST SP 800-57 Part 1 Rev. 5's (section 7), with *revoked* for its
*destroyed*; cryptoperiods are its section 5.3. Checkers read the custodian's states, its policy and its
audit log, never the student's code. ``payments()`` and ``scenarios()`` make a fresh custodian each time,
so a cell can be run again after a mistake (a revoked key stays revoked, as in real life).
"""

from __future__ import annotations

import re
import weakref
from datetime import UTC, datetime, timedelta

from kmslib.clock import classroom_clock
from kmslib.course.exercises import Exercise, Question, Quiz, student_custodian, student_entries
from kmslib.custodian import KeyCustodian
from kmslib.keyinfo import KeyInfo
from kmslib.states import ACTIVE, COMPROMISED, DEACTIVATED, PRE_ACTIVATION, REVOKED, SUSPENDED
from kmslib.tokens import inspect_token

__all__ = ["payments", "q1", "q2", "q3", "q4", "quiz", "scenarios"]

KIOSK = "kiosk"
PAYMENTS = "payments"
BADGE, BILLING, LAPTOP = "badge-ana", "billing-2025", "laptop-raj"
EXAM = "exam-2026"
#: When EXAM may first be used (the classroom clock starts on 1 January 2026, 09:00 UTC).
TERM_STARTS = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
#: The cryptoperiod of exercise 2.
ROTATE_EVERY, DEACTIVATE_AFTER, MAX_USES = timedelta(days=90), timedelta(days=365), 1_000_000
EXAM_USES = 3

#: What the checkers ask of a reason: a simple rule, not a judgement of the words (as in lesson 04).
_REASON_RULE = "at least two words (of two letters or more) saying why, such as 'laptop stolen'."

#: The custodians payments() and scenarios() made: an answer must be one of them.
_MADE_BY: weakref.WeakKeyDictionary[KeyCustodian, str] = weakref.WeakKeyDictionary()


def _says_something(reason: str | None) -> bool:
    """Whether ``reason`` has at least two words of two letters or more (any alphabet)."""
    return reason is not None and len(re.findall(r"[^\W\d_]{2,}", reason)) >= 2


def _ok(custodian: KeyCustodian, key_id: str, operation: str) -> list[int]:
    """The seqs of the student's successful ``operation`` entries on ``key_id``."""
    return [
        e.seq
        for e in student_entries(custodian)
        if e.key_id == key_id and e.operation == operation and e.outcome == "ok"
    ]


# ---------------------------------------------------------------- q1: suspend, then resume


def _check_q1(kms: object) -> str | None:
    custodian = student_custodian(kms)
    if KIOSK not in custodian:
        return f"there is no key {KIOSK!r} in your custodian: make it first."
    state = custodian.key_info(KIOSK).state
    if state == REVOKED:
        return (
            f"{KIOSK!r} was revoked: that destroys it, and the investigation found nothing. Suspension stops every "
            "use and can be lifted. A revoked id is never reused: start again with kms = KeyCustodian()."
        )
    if state in (DEACTIVATED, COMPROMISED):
        return (
            f"{KIOSK!r} is {state}, and no move leads back to active from there (NIST SP 800-57 section 7). "
            "Suspension is the state that can be lifted: start again with kms = KeyCustodian()."
        )
    if state == SUSPENDED:
        return f"{KIOSK!r} is still suspended: the investigation found nothing, so resume it."
    suspended, resumed = _ok(custodian, KIOSK, "suspend_key"), _ok(custodian, KIOSK, "resume_key")
    if not suspended:
        return f"the audit log shows no suspension of {KIOSK!r}: suspend_key it first, then resume_key."
    if not resumed or resumed[-1] < suspended[0]:
        return f"the audit log shows no resume_key of {KIOSK!r} after its suspension."
    info = custodian.key_info(KIOSK)
    if _newest_stopped(info):
        return (
            f"{_newest_stopped(info)}, so the key does not work again: the task asks for a suspension and a resume, "
            "nothing more (rotate_key gives it a version that works)."
        )
    if not _says_something(info.reason) or _reason_is_a_versions(custodian, info, suspended[-1]):
        return f"give the suspension a reason that says something: {_REASON_RULE}"
    return None


def _newest_stopped(info: KeyInfo) -> str | None:
    """What stops the newest version of an active key from encrypting (``version 1 of 'x' is compromised``)."""
    newest = dict(info.version_states).get(info.version, ACTIVE)
    return None if newest == ACTIVE else f"version {info.version} of {info.key_id!r} is {newest}"


def _reason_is_a_versions(custodian: KeyCustodian, info: KeyInfo, suspension: int) -> bool:
    """Whether the key's reason may be one given since ``suspension`` to revoke a version (it then shows that)."""
    revoked_since = any(
        e.seq > suspension and e.version is not None
        for e in student_entries(custodian)
        if e.key_id == info.key_id and e.operation == "invalidate_key" and e.outcome == "ok"
    )
    return revoked_since and info.reason in {reason for _, reason in info.version_reasons}


q1 = Exercise(
    1,
    "recall",
    f"Stop every use of key {KIOSK!r} while an incident at the front desk is investigated, then let it work again "
    "once the investigation has found nothing. Make the key in `kms`, suspend it with a reason, then resume it.",
    _check_q1,
    "suspend_key(key_id, reason=...) stops every use, decryption included; resume_key(key_id) lifts it. A revoked, "
    "deactivated or compromised key never becomes active again.",
    f'kms.establish_aes_key("{KIOSK}")\n'
    f'kms.suspend_key("{KIOSK}", reason="front desk incident under investigation")\n'
    f'kms.resume_key("{KIOSK}")\n'
    "q1.check(kms)",
)


# ---------------------------------------------------------------- q2: a policy that meets a cryptoperiod


def payments() -> KeyCustodian:
    """A fresh custodian on a classroom clock, with key ``payments`` (no policy yet) and one token."""
    kms = KeyCustodian(clock=classroom_clock())
    kms.establish_aes_key(PAYMENTS)
    kms.encrypt_data_aes(PAYMENTS, "card 4111 1111 1111 1111")
    _MADE_BY[kms] = "payments()"
    return kms


def _days(period: timedelta | None) -> str:
    """A period in days, as a student reads it: ``3.75 days``, or ``90 days, 0:00:01`` when not a round number."""
    if period is None:
        return "nothing"
    days = f"{period.total_seconds() / 86400:g}"
    try:
        round_number = timedelta(days=float(days)) == period
    except OverflowError:  # days beyond what a timedelta holds, rounded up from timedelta.max
        round_number = False
    return f"{days} days" if round_number else str(period)


def _check_q2(kms: object) -> str | None:
    custodian = student_custodian(kms)
    if _MADE_BY.get(custodian) != "payments()" or PAYMENTS not in custodian:
        return "pass the custodian that payments() gave you (lab = payments())."
    info = custodian.key_info(PAYMENTS)
    if info.state != ACTIVE:
        return f"{PAYMENTS!r} is {info.state}: a policy is for a key in use. Start again from payments()."
    if _newest_stopped(info):
        return f"{_newest_stopped(info)}: a policy is for a key in use (rotate_key gives it a version that works)."
    policy = info.policy
    if policy is None:
        refused = [
            e
            for e in student_entries(custodian)
            if e.key_id == PAYMENTS and e.operation == "set_rotation_policy" and e.outcome != "ok"
        ]
        if refused and refused[-1].outcome == "InvalidInputError":
            return (
                "set_rotation_policy refused a value out of range: each period positive and at most 876,000 hours "
                "(100 years), rotate_every at least one hour, max_uses from 1 to 2**32."
            )
        if refused:
            return "set_rotation_policy refused your periods: give them as timedelta(days=...), max_uses as an int."
        return f"{PAYMENTS!r} has no rotation policy: give it one with set_rotation_policy."
    if not _ok(custodian, PAYMENTS, "set_rotation_policy"):
        return (
            f"the audit log shows no set_rotation_policy({PAYMENTS!r}): a policy written into the key record by hand "
            "is not set. Call set_rotation_policy (start again from payments())."
        )
    if policy.rotate_every == DEACTIVATE_AFTER and policy.deactivate_after == ROTATE_EVERY:
        return "rotate_every and deactivate_after are swapped: a new version every 90 days, the old ones 365 days on."
    if policy.rotate_every != ROTATE_EVERY:
        return f"rotate_every is {_days(policy.rotate_every)}: the cryptoperiod asks for a new version every 90 days."
    if policy.deactivate_after != DEACTIVATE_AFTER:
        return (
            f"deactivate_after is {_days(policy.deactivate_after)}: each older version should stop 365 days after "
            "it was replaced."
        )
    if policy.max_uses != MAX_USES:
        return f"max_uses is {policy.max_uses}: the policy allows at most 1,000,000 encryptions per version."
    return None


def _behaviour(_kms: object) -> str:
    """What the policy does on a classroom clock (a fresh custodian, so the student's changes nothing)."""
    clock = classroom_clock()
    trial = KeyCustodian(clock=clock)
    trial.establish_aes_key(PAYMENTS)
    trial.set_rotation_policy(PAYMENTS, rotate_every=ROTATE_EVERY, deactivate_after=DEACTIVATE_AFTER, max_uses=MAX_USES)
    clock.advance(ROTATE_EVERY)
    version = inspect_token(trial.encrypt_data_aes(PAYMENTS, "x")).version
    clock.advance(DEACTIVATE_AFTER)
    states = dict(trial.key_info(PAYMENTS).version_states)
    return (
        f"On a classroom clock, the first encryption 90 days on uses version {version} (rotate_key_by_policy), and "
        f"365 days later version 1 is {states[1]}: it still decrypts, and never encrypts."
    )


q2 = Exercise(
    2,
    "apply",
    f"The security policy sets the cryptoperiod of {PAYMENTS!r}: a new version every 90 days, each older version "
    "deactivated 365 days after it was replaced, and at most 1,000,000 encryptions per version. Give the key in "
    "`lab = payments()` that rotation policy.",
    _check_q2,
    "set_rotation_policy(key_id, rotate_every=..., deactivate_after=..., max_uses=...) with timedelta periods "
    "(from datetime import timedelta); key_info(key_id).policy shows what is set.",
    "lab = payments()\n"
    f'lab.set_rotation_policy("{PAYMENTS}", rotate_every=timedelta(days=90),\n'
    "                        deactivate_after=timedelta(days=365), max_uses=1_000_000)\n"
    "q2.check(lab)",
    praise=_behaviour,
)


# ---------------------------------------------------------------- q3: the right state for each situation

#: Each scenario's key, the state it needs, and why each other state is wrong (where to look).
_SCENARIOS: dict[str, tuple[str, dict[str, str]]] = {
    BADGE: (
        SUSPENDED,
        {
            ACTIVE: "badge-ana still works while Ana is away: stop every use until she is back.",
            DEACTIVATED: "badge-ana is deactivated, and a deactivated key never becomes active again: Ana is back "
            "in May.",
            COMPROMISED: "nothing says badge-ana leaked: Ana is on leave, and she is back in May.",
            REVOKED: "badge-ana was revoked, which destroys it: Ana is back in May.",
        },
    ),
    BILLING: (
        DEACTIVATED,
        {
            ACTIVE: "billing-2025 still encrypts, after the end of its originator-usage period (SP 800-57 5.3).",
            SUSPENDED: "billing-2025 is suspended, and a suspended key refuses decryption too (in kmslib): last "
            "year's invoices must still decrypt, and nothing is waiting to be resumed.",
            COMPROMISED: "nothing says billing-2025 leaked: its time for new data is over, that is all.",
            REVOKED: "billing-2025 was revoked, and last year's invoices are lost with it.",
        },
    ),
    LAPTOP: (
        COMPROMISED,
        {
            ACTIVE: "laptop-raj still works, and the thief holds it.",
            SUSPENDED: "laptop-raj is suspended: suspension is a pause that resume_key lifts, and this key is known "
            "to be in a thief's hands.",
            DEACTIVATED: "laptop-raj is deactivated, so it still decrypts for whoever asks the custodian: a stolen key "
            "needs the state that refuses every use.",
            REVOKED: "laptop-raj was revoked, which destroys it, and the investigators need to read what it "
            "protected: the state for a stolen key that keeps its material is another one.",
        },
    ),
}


#: The call that moves a whole key to each state, as the audit log names it.
_MOVES = {SUSPENDED: "suspend_key", DEACTIVATED: "deactivate_key", COMPROMISED: "mark_compromised"}


def _last_move(custodian: KeyCustodian, key_id: str) -> str | None:
    """The last successful call that changed the state of the whole key ``key_id``, by the audit log."""
    moves = {*_MOVES.values(), "resume_key", "invalidate_key", "activate_key"}
    found = [
        e.operation
        for e in student_entries(custodian)
        if e.key_id == key_id and e.version is None and e.operation in moves and e.outcome == "ok"
    ]
    return found[-1] if found else None


def scenarios() -> KeyCustodian:
    """A fresh custodian with the three keys of exercise 3, all active, each with an invoice or file encrypted."""
    kms = KeyCustodian(clock=classroom_clock())
    for key_id in _SCENARIOS:
        kms.establish_aes_key(key_id)
        kms.encrypt_data_aes(key_id, f"{key_id}: an old record")
    _MADE_BY[kms] = "scenarios()"
    return kms


def _check_q3(kms: object) -> str | None:
    custodian = student_custodian(kms)
    if _MADE_BY.get(custodian) != "scenarios()" or not all(key_id in custodian for key_id in _SCENARIOS):
        return "pass the custodian that scenarios() gave you (lab = scenarios())."
    infos: dict[str, KeyInfo] = {key_id: custodian.key_info(key_id) for key_id in _SCENARIOS}
    wrong = [key_id for key_id, (needed, _) in _SCENARIOS.items() if infos[key_id].state != needed]
    if wrong:
        key_id = wrong[0]
        found = infos[key_id].state
        changed = [version for version, state in infos[key_id].version_states if state != ACTIVE]
        if found == ACTIVE and changed:
            return (
                f"only version {changed[0]} of {key_id} changed, and the key itself is still active: the situation "
                "concerns the whole key (no version=...)."
            )
        more = f" ({len(wrong) - 1} more of the three also need another state.)" if len(wrong) > 1 else ""
        return _SCENARIOS[key_id][1].get(found, f"{key_id} is {found}.") + more
    for key_id, (needed, _) in _SCENARIOS.items():
        move = _MOVES[needed]
        if _last_move(custodian, key_id) != move:
            return (
                f"{key_id} looks {needed}, but the audit log shows no {move}({key_id!r}) that put it there: a key "
                "record changed by hand changes nothing. Start again from scenarios()."
            )
    for key_id in (BADGE, LAPTOP):
        if not _says_something(infos[key_id].reason):
            return f"give {key_id}'s change a reason that says something: {_REASON_RULE}"
    return None


q3 = Exercise(
    3,
    "apply",
    f"In `lab = scenarios()`, put each key in the state its situation needs. {BADGE!r}: Ana is on leave for four "
    f"months, and is back in May. {BILLING!r}: its originator-usage period ended on 31 December, and last year's "
    f"invoices under it must still decrypt. {LAPTOP!r}: Raj's laptop, with this key on its disk, was stolen "
    "yesterday, and the investigators will need to read what the key protected. Give a reason wherever one is "
    "taken.",
    _check_q3,
    "Ask of each: may it come back (suspend)? Must it still read old data but never protect new data (deactivate)? "
    "Is it in someone else's hands, with its material needed later (mark_compromised)? Revoking destroys.",
    'lab = scenarios()\nlab.suspend_key("badge-ana", reason="Ana on leave until May")\n'
    'lab.deactivate_key("billing-2025", reason="originator-usage period ended 31 December")\n'
    'lab.mark_compromised("laptop-raj", reason="Raj\'s laptop stolen with the key on its disk")\n'
    "q3.check(lab)",
)


# ---------------------------------------------------------------- q4: pre-activation and a usage limit


#: The operations that encrypt under a key, each counted against its ``max_uses`` (an envelope's data key is
#: wrapped by it); a refusal judged is the key's own (``KeyStateError``), not one of a plaintext's type.
_USES = frozenset({"encrypt_data_aes", "encrypt_envelope", "generate_data_key", "generate_data_key_without_plaintext"})


def _check_q4(kms: object) -> str | None:
    custodian = student_custodian(kms)
    if EXAM not in custodian:
        return f"there is no key {EXAM!r} in your custodian: make it first."
    info = custodian.key_info(EXAM)
    mine = [e for e in student_entries(custodian) if e.key_id == EXAM]
    activated = [e for e in mine if e.operation == "activate_key" and e.outcome == "ok"]
    if info.state == PRE_ACTIVATION:
        return f"{EXAM!r} is still pre-activation: move the clock to 1 March (clock.advance), then use it."
    if not activated:
        return (
            f"{EXAM!r} was active from the moment it was made: give establish_aes_key activate_at=... a time still "
            "ahead on the custodian's clock (a classroom_clock() starts on 1 January 2026)."
        )
    if info.activate_at != TERM_STARTS or activated[0].time < TERM_STARTS:
        when = info.activate_at or activated[0].time
        return f"{EXAM!r} was made to become active on {when.day} {when:%B %H:%M}: the task asks for 1 March 09:00 UTC."
    early = [e for e in mine if e.operation in _USES and e.outcome == "KeyStateError" and e.seq < activated[0].seq]
    if not early:
        other = [e for e in mine if e.operation in _USES and e.outcome != "ok" and e.seq < activated[0].seq]
        if other:
            return (
                f"the encryption tried before {EXAM!r} was active was refused for its arguments ({other[0].outcome}), "
                "not for the date: try one with a text to encrypt, and see the key refuse it."
            )
        return f"the audit log shows no encryption tried before {EXAM!r} was active: try one, and see it refused."
    policy = info.policy
    policy_set = any(e.operation == "set_rotation_policy" and e.outcome == "ok" for e in mine)
    if policy is None or policy.max_uses != EXAM_USES or not policy_set:
        return f"{EXAM!r} should allow at most {EXAM_USES} encryptions per version: set its policy's max_uses."
    if policy.rotate_every is not None or info.version != 1:
        return (
            f"{EXAM!r} rotated (or may rotate): with rotate_every, or rotate_key, a version at its limit is replaced "
            "instead of refusing. The task asks for no rotation."
        )
    done = [e for e in mine if e.operation in _USES and e.seq > activated[0].seq]
    made = [e.seq for e in done if e.outcome == "ok"]
    refused_after = [e for e in done if e.outcome == "KeyStateError" and len(made) == EXAM_USES and e.seq > made[-1]]
    if len(made) < EXAM_USES or not refused_after:
        return (
            f"the audit log shows {len(made)} encryption(s) since {EXAM!r} became active and no refusal after the "
            f"{EXAM_USES}rd: encrypt until the key refuses."
        )
    return None


q4 = Exercise(
    4,
    "build",
    f"In a custodian of your own on a `classroom_clock()` (it shows 1 January 2026, 09:00 UTC): make key {EXAM!r} to "
    f"become active on 1 March 2026 at 09:00 UTC, with at most {EXAM_USES} encryptions per version and no rotation. "
    "Try an encryption before March (it is refused), move the clock to 1 March, then encrypt until the key refuses. "
    "Pass your custodian.",
    _check_q4,
    "establish_aes_key(..., activate_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC)); set_rotation_policy(..., "
    "max_uses=3) without rotate_every; advancing the clock by timedelta(days=59) reaches 1 March. Catch the "
    "refusals with try/except KeyStateError.",
    """exam_clock = classroom_clock()
exam = KeyCustodian(clock=exam_clock)
exam.establish_aes_key("exam-2026", activate_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
exam.set_rotation_policy("exam-2026", max_uses=3)
for day in (0, 59, 0, 0, 0):  # a try on 1 January, then four on 1 March
    exam_clock.advance(timedelta(days=day))
    try:
        exam.encrypt_data_aes("exam-2026", "question 1")
    except KeyStateError as error:
        print(error)
q4.check(exam)""",
)


# ---------------------------------------------------------------- the quiz

quiz = Quiz(
    Question(
        "Which state lets a key still decrypt and verify what it protected, but never encrypt or sign again?",
        {"a": "suspended", "b": "deactivated", "c": "compromised"},
        "b",
        "NIST SP 800-57 Part 1 (sections 5.3 and 7): after its originator-usage period a key is deactivated; it "
        "processes old data and protects nothing new. kmslib's suspended and compromised keys refuse both.",
    ),
    Question(
        "A laptop holding a key was stolen, and the investigators will need to read what the key protected. What now?",
        {
            "a": "Revoke the key at once",
            "b": "Mark it compromised, and revoke it once its data has been read or moved",
            "c": "Suspend it until the laptop is found",
        },
        "b",
        "Compromised refuses every use but keeps the material; the owner reads old data with allow_compromised=True, "
        "each read audited. Revoking destroys the material; suspending says the key may come back.",
    ),
    Question(
        "In kmslib, can a suspended key decrypt?",
        {
            "a": "Yes: SP 800-57 lets a suspended key process old data",
            "b": "No: kmslib refuses every use until resume_key",
        },
        "b",
        "SP 800-57 section 7.3 allows processing at the recipient's risk; kmslib is stricter, so that a suspension "
        "while an incident is investigated stops everything.",
    ),
    Question(
        "A key's policy says rotate_every=timedelta(days=90). When does it rotate?",
        {
            "a": "At the exact second the 90 days end, by a timer",
            "b": "On the first use of the key after 90 days, by the custodian's clock",
            "c": "Only when someone calls rotate_key",
        },
        "b",
        "kmslib rotates lazily, on the first use (key_info counts) once the newest version is 90 days old, and "
        "audits it as rotate_key_by_policy; a key nobody uses is not rotated until it is.",
    ),
)
