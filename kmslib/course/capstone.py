"""The capstone's "your turn" exercises, checked in the manner of Kaggle's learntools.

Each exercise has ``check(...)`` (says what is right, or what is wrong and a hint),
``hint()`` and ``solution()`` (hidden until asked for). ``check`` returns ``True`` or ``False``
as well as printing its verdict, so a test can use it.
"""

from __future__ import annotations

from collections.abc import Callable

from kmslib.course import ____
from kmslib.custodian import KeyCustodian
from kmslib.errors import KMSError
from kmslib.tokens import inspect_token

__all__ = ["EXERCISES", "Exercise", "Verdict", "q1", "q2", "q3", "q4"]

KEY_ID = "ops"
MESSAGE = "quarterly report"
CONTEXT = "dept=finance"


class Verdict:
    """What :meth:`Exercise.check` returns: true when the answer is right.

    It shows nothing in a notebook (the printed verdict says it all), unlike a bare ``False``.
    """

    __slots__ = ("correct",)

    def __init__(self, correct: bool) -> None:
        self.correct = correct

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return f"Verdict(correct={self.correct})"

    def _ipython_display_(self) -> None:
        """Display nothing: the check already printed its verdict."""


class Exercise:
    """One exercise: a checker, a hint and a solution.

    Args:
        number: its number in the notebook.
        task: what the student is asked to do.
        checker: returns ``None`` when the answer is right, else what is wrong.
        hint: a nudge that does not give the answer away.
        solution: the code that solves it.
    """

    def __init__(self, number: int, task: str, checker: Callable[..., str | None], hint: str, solution: str) -> None:
        self.number = number
        self.task = task
        self._checker = checker
        self._hint = hint
        self._solution = solution

    def check(self, *answer: object) -> Verdict:
        """Check the student's answer and print the verdict.

        Args:
            answer: what the exercise's checker takes (a custodian, a token, ...).

        Returns:
            A :class:`Verdict`, true when the answer is right.
        """
        if any(a is ____ for a in answer):
            print(f"✘ Exercise {self.number}: replace the blank ____ with your answer first.")
            return Verdict(False)
        try:
            problem = self._checker(*answer)
        except KMSError as exc:
            problem = f"kmslib raised {type(exc).__name__}: {exc}"
        except TypeError as exc:  # the wrong kind of answer, such as a string for the custodian
            problem = str(exc)
        if problem is None:
            print(f"✔ Exercise {self.number}: correct!")
            return Verdict(True)
        print(f"✘ Exercise {self.number}: not yet. {problem}\n  (q{self.number}.hint() gives a hint)")
        return Verdict(False)

    def hint(self) -> None:
        """Print the hint."""
        print(f"Hint: {self._hint}")

    def solution(self) -> None:
        """Print the solution."""
        print(f"Solution:\n{self._solution}")

    def __repr__(self) -> str:
        return f"Exercise {self.number}: {self.task}"


def _custodian(kms: object) -> KeyCustodian:
    if not isinstance(kms, KeyCustodian):
        raise TypeError(f"pass the KeyCustodian, not {type(kms).__name__}")
    return kms


def _check_q1(kms: object) -> str | None:
    custodian = _custodian(kms)
    if KEY_ID not in custodian:
        return f"there is no key {KEY_ID!r} in the custodian yet."
    info = custodian.key_info(KEY_ID)
    if info.kind != "aes":
        return f"{KEY_ID!r} is an {info.kind.upper()} key; the exercise asks for AES."
    if info.algorithm != "aes-256-gcm":
        return f"{KEY_ID!r} uses {info.algorithm}; GCM authenticates, CBC does not. Make a GCM key."
    return None


def _check_q2(kms: object, token: object) -> str | None:
    custodian = _custodian(kms)
    if not isinstance(token, str) or not token.startswith("kms:"):
        return "report_token should be the token string that encrypt_data_aes returns."
    if inspect_token(token).algorithm != "aes-256-gcm":
        return "encrypt with the GCM key 'ops'."
    try:
        plaintext = custodian.decrypt_data_aes(KEY_ID, token, associated_data=CONTEXT)
    except KMSError:
        try:
            custodian.decrypt_data_aes(KEY_ID, token)
        except KMSError:
            return "the token does not decrypt with 'ops': was it made by that key?"
        return f"the token decrypts without associated data: bind associated_data={CONTEXT!r}."
    if plaintext != MESSAGE:
        return f"the token holds {len(plaintext)} characters of something else; encrypt {MESSAGE!r}."
    return None


def _check_q3(kms: object, token: object) -> str | None:
    custodian = _custodian(kms)
    info = custodian.key_info(KEY_ID)
    if info.version < 2:
        return f"{KEY_ID!r} is still at version 1: rotate it first."
    if not isinstance(token, str) or not token.startswith("kms:"):
        return "report_token_v2 should be the token string that rewrap returns."
    if inspect_token(token).version != info.version:
        return f"the token is at version {inspect_token(token).version}; rewrap moves it to {info.version}."
    if custodian.decrypt_data_aes(KEY_ID, token, associated_data=CONTEXT) != MESSAGE:
        return "the rewrapped token should still hold the report."
    return None


def _check_q4(kms: object) -> str | None:
    custodian = _custodian(kms)
    info = custodian.key_info(KEY_ID)
    if not info.active:
        return f"the whole key {KEY_ID!r} was revoked; revoke only version 1 (version=1)."
    if 1 not in info.revoked_versions:
        return "version 1 is not revoked yet."
    if not info.reason:
        return "give a reason, so the audit trail says why."
    return None


q1 = Exercise(
    1,
    f"Make an AES-256-GCM key called {KEY_ID!r} in `kms`.",
    _check_q1,
    "establish_aes_key takes the key id; GCM is the default mode.",
    f'kms.establish_aes_key("{KEY_ID}")',
)
q2 = Exercise(
    2,
    f"Encrypt {MESSAGE!r} under {KEY_ID!r}, bound to the associated data {CONTEXT!r}; keep it in `report_token`.",
    _check_q2,
    "encrypt_data_aes takes associated_data=... as a keyword argument.",
    f'report_token = kms.encrypt_data_aes("{KEY_ID}", "{MESSAGE}", associated_data="{CONTEXT}")',
)
q3 = Exercise(
    3,
    f"Rotate {KEY_ID!r}, then rewrap `report_token` to the new version as `report_token_v2`.",
    _check_q3,
    "rotate_key adds a version; rewrap needs the same associated_data as the original token.",
    f'kms.rotate_key("{KEY_ID}")\nreport_token_v2 = kms.rewrap("{KEY_ID}", report_token, associated_data="{CONTEXT}")',
)
q4 = Exercise(
    4,
    f"Version 1 of {KEY_ID!r} was on the stolen laptop: revoke that version only, with a reason.",
    _check_q4,
    "invalidate_key takes version=... and reason=...; the newest version cannot be revoked alone.",
    f'kms.invalidate_key("{KEY_ID}", version=1, reason="laptop stolen")',
)

#: The exercises in order.
EXERCISES = (q1, q2, q3, q4)
