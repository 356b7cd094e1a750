"""Checked exercises and quizzes, in the manner of Kaggle's learntools.

An :class:`Exercise` has ``check(...)`` (says what is right, or what is wrong and where to look),
``hint()`` and ``solution()`` (hidden until asked for). A checker judges what the student built
(a custodian's state, its audit log, a token), never the text of the code, so any correct answer
passes. ``check`` can be run again at any time, in any order: checkers change no key. Their own
operations (a decryption, to compare) do add audit entries; :func:`student_entries` leaves those out.

A :class:`Quiz` is a few multiple-choice questions with immediate feedback:
``quiz.answer(1, "b")``.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from kmslib.audit import AuditEntry
from kmslib.custodian import KeyCustodian
from kmslib.envelope import split
from kmslib.errors import KMSError, StoreError

__all__ = [
    "Exercise",
    "Question",
    "Quiz",
    "Verdict",
    "as_checker",
    "blank",
    "envelope_answer",
    "envelope_problem",
    "indices",
    "indices_refusal",
    "kind",
    "raised_by_kmslib",
    "student_custodian",
    "student_entries",
    "whole",
]


class _Blank:
    """The blank a student replaces in a "your turn" cell; evaluating it does nothing."""

    def __repr__(self) -> str:
        return "____"


#: The blank in "your turn" cells (as in Kaggle's learntools); ``kmslib.course.____`` is the same object.
blank = _Blank()


def envelope_answer(value: object, name: str) -> memoryview | str:
    """A student's envelope as a view, or what is wrong with it (a token, not bytes, not an envelope)."""
    if isinstance(value, str):
        return f"{name} is a text token: use encrypt_envelope, which returns bytes."
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return f"{name} should be the envelope (bytes), not {type(value).__name__}."
    view = memoryview(value)
    if split(view) is None:
        return f"{name} is not an envelope: it should start with b'KMSE\\x01'."
    return view


def envelope_problem(custodian: KeyCustodian, kek: str, view: memoryview, context: str, expected: bytes) -> str | None:
    """What is wrong with an envelope that should hold ``expected`` under ``kek``, bound to ``context``; or ``None``."""
    try:
        data = custodian.decrypt_envelope(kek, view, associated_data=context)
    except KMSError:
        try:
            custodian.decrypt_envelope(kek, view)
        except KMSError:
            return f"the envelope does not open with {kek!r}: was it made under that KEK?"
        return f"the envelope opens without associated data: bind associated_data={context!r}."
    if data != expected:
        return "the envelope holds other data: encrypt REPORT."
    return None


def kind(value: object) -> str:
    """What a wrong answer is, in a student's words: ``None``, or its type's name (``str``, ``list``)."""
    return "None" if value is None else type(value).__name__


_KMSLIB = str(Path(__file__).resolve().parent.parent)


def raised_by_kmslib(error: BaseException) -> bool:
    """Whether ``error`` was raised inside kmslib (its innermost frame is kmslib's), not built or raised by hand.

    A checker that asks for "the error kmslib raised" judges the error, not only its words: an exception made
    with the right message, or raised by the student's own ``raise``, is not what the call answered.
    """
    trace = error.__traceback__
    if trace is None:
        return False
    while trace.tb_next is not None:
        trace = trace.tb_next
    return trace.tb_frame.f_code.co_filename.startswith(_KMSLIB)


def whole(value: object) -> int | None:
    """``value`` as a plain int, if it is an int and not a bool; else ``None``.

    An int subclass keeps only its value: its own ``==``, ``!=`` or ``<`` (one that always agrees, say)
    judge nothing.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return int.__index__(value)


#: More indices than any exercise has items: such a collection (``range(10**12)``) is refused unread.
_MAX_INDICES = 1000


def indices(value: object) -> set[int] | None:
    """The ints in a list, tuple, set, frozenset, range or dict view of them; else ``None`` (a bool is no index)."""
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Collection):
        return None
    if len(value) > _MAX_INDICES:
        return None
    found = [whole(item) for item in value]
    return None if any(item is None for item in found) else {item for item in found if item is not None}


def indices_refusal(value: object, count: int, what: str) -> str:
    """What to say when :func:`indices` refused ``value``: the items' fault, or the container's.

    Args:
        value: the student's answer.
        count: how many ``what`` there are (numbered from 0).
        what: what the indices number, in the plural ("sources", "unsafe templates").
    """
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"give the indices of the {what} as whole numbers (0 to {count - 1}): not text, fractions or True/False."
    return f"give the indices of the {what} (0 to {count - 1}) in a list or set, not {kind(value)}."


def student_custodian(answer: object) -> KeyCustodian:
    """The student's answer, if it is an open custodian; a checker's ``TypeError`` says what to pass instead."""
    if not isinstance(answer, KeyCustodian):
        raise TypeError(f"pass your KeyCustodian, not {kind(answer)}")
    try:
        answer.list_keys()
    except StoreError:
        raise TypeError(
            "that custodian was closed, and a closed custodian's keys are gone: pass one that is open"
        ) from None
    return answer


#: The audit entries (by seq) that checkers' own operations added to each student's custodian.
_CHECKERS_OWN: weakref.WeakKeyDictionary[KeyCustodian, set[int]] = weakref.WeakKeyDictionary()


@contextmanager
def as_checker(custodian: KeyCustodian) -> Iterator[None]:
    """Run a checker's own operations on a student's custodian, so that :func:`student_entries` leaves them out."""
    start = len(custodian.audit_log)
    try:
        yield
    finally:
        _CHECKERS_OWN.setdefault(custodian, set()).update(range(start, len(custodian.audit_log)))


def student_entries(custodian: KeyCustodian) -> list[AuditEntry]:
    """The custodian's audit entries, without those a checker's own operations added (judging twice judges alike)."""
    own = _CHECKERS_OWN.get(custodian, set())
    return [entry for entry in custodian.audit_log if entry.seq not in own]


class Verdict:
    """What a check returns: true when the answer is right.

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
        level: how hard it is: ``"recall"``, ``"apply"``, ``"build"`` or ``"break"``.
        task: what the student is asked to do.
        checker: takes the student's answer; returns ``None`` when it is right, else what is wrong.
        hint: a nudge that does not give the answer away.
        solution: code that solves it (the tests run it).
        praise: what to print with a correct answer (for example what it shows), given the answer.
    """

    LEVELS = ("recall", "apply", "build", "break")

    def __init__(  # noqa: PLR0917 - each part of an exercise, in the order a notebook reads them
        self,
        number: int,
        level: str,
        task: str,
        checker: Callable[..., str | None],
        hint: str,
        solution: str,
        praise: Callable[..., str] | None = None,
    ) -> None:
        if level not in self.LEVELS:
            raise ValueError(f"level must be one of {self.LEVELS}, not {level!r}")
        self.number = number
        self.level = level
        self.task = task
        self._checker = checker
        self._hint = hint
        self._solution = solution
        self._praise = praise

    def check(self, *answer: object) -> Verdict:
        """Check the student's answer and print the verdict.

        Args:
            answer: what the exercise's checker takes (a custodian, a token, ...).

        Returns:
            A :class:`Verdict`, true when the answer is right.
        """
        if any(a is blank for a in answer):
            print(f"✘ Exercise {self.number}: replace the blank ____ with your answer first.")
            return Verdict(False)
        expected = list(inspect.signature(self._checker).parameters)
        if len(answer) != len(expected):
            print(
                f"✘ Exercise {self.number}: not yet. q{self.number}.check takes {len(expected)} "
                f"answer{'s' if len(expected) != 1 else ''} ({', '.join(expected)}); you passed {len(answer)}.\n"
                f"  (q{self.number}.hint() gives a hint)"
            )
            return Verdict(False)
        try:
            problem = self._checker(*answer)
        except KMSError as exc:
            problem = f"kmslib raised {type(exc).__name__}: {exc}"
        except TypeError as exc:  # the wrong kind of answer, such as a string for the custodian
            problem = str(exc)
        if problem is None:
            extra = f" {self._praise(*answer)}" if self._praise is not None else ""
            print(f"✔ Exercise {self.number}: correct!{extra}")
            return Verdict(True)
        print(f"✘ Exercise {self.number}: not yet. {problem}\n  (q{self.number}.hint() gives a hint)")
        return Verdict(False)

    def hint(self) -> None:
        """Print the hint."""
        print(f"Hint: {self._hint}")

    def solution(self) -> None:
        """Print the solution."""
        print(f"Solution:\n{self._solution}")

    @property
    def solution_code(self) -> str:
        """The solution's code (what :meth:`solution` prints), for tests that run it."""
        return self._solution

    def __repr__(self) -> str:
        return f"Exercise {self.number} ({self.level}): {self.task}"


class Question:
    """One multiple-choice question.

    Args:
        prompt: the question.
        choices: the answers offered, by letter.
        answer: the letter of the right one.
        why: why it is right (shown with the verdict, whichever was chosen).
    """

    def __init__(self, prompt: str, choices: Mapping[str, str], answer: str, why: str) -> None:
        if answer not in choices:
            raise ValueError(f"the answer {answer!r} is not one of the choices {sorted(choices)}")
        self.prompt = prompt
        self.choices = dict(choices)
        self.answer = answer
        self.why = why

    def __repr__(self) -> str:
        options = "\n".join(f"   {letter}) {text}" for letter, text in self.choices.items())
        return f"{self.prompt}\n{options}"


class Quiz:
    """A short quiz: ``quiz`` shows the questions, ``quiz.answer(n, "b")`` checks one at once.

    Args:
        questions: the questions, numbered from 1.
    """

    def __init__(self, *questions: Question) -> None:
        self.questions = questions

    def answer(self, number: int, choice: object) -> Verdict:
        """Check the answer to question ``number`` and say why.

        Args:
            number: the question's number, from 1.
            choice: the letter chosen (``"a"``, ``"b"``, ...; any case).

        Returns:
            A :class:`Verdict`, true when the choice is right.
        """
        index = whole(number)  # an int subclass keeps only its value
        if index is None or not 1 <= index <= len(self.questions):
            print(f"✘ There are questions 1 to {len(self.questions)}.")
            return Verdict(False)
        number = index
        if choice is blank:
            print(f"✘ Question {number}: replace the blank ____ with a letter first.")
            return Verdict(False)
        question = self.questions[number - 1]
        letter = str.__str__(choice).strip().lower() if isinstance(choice, str) else ""  # its plain value
        if letter not in question.choices:
            print(f"✘ Question {number}: choose one of {', '.join(sorted(question.choices))}.")
            return Verdict(False)
        if letter == question.answer:
            print(f"✔ Question {number}: right. {question.why}")
            return Verdict(True)
        print(f"✘ Question {number}: not {letter}. {question.why}")
        return Verdict(False)

    def __repr__(self) -> str:
        return "\n\n".join(f"{n}. {question!r}" for n, question in enumerate(self.questions, 1))

    def _repr_markdown_(self) -> str:
        parts = []
        for n, question in enumerate(self.questions, 1):
            options = "\n".join(f"   - **{letter})** {text}" for letter, text in question.choices.items())
            parts.append(f"{n}. {question.prompt}\n{options}")
        return "\n".join(parts) + '\n\nAnswer with `quiz.answer(1, "a")`.'
