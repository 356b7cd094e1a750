"""How long a lesson takes a student reading it carefully for the first time: the course's time estimates.

Every lesson states "*About N minutes*". Those numbers are computed here from the notebook itself, so that
they stay honest when a lesson grows, and ``tests/test_timing.py`` checks each stated number against this
estimate. The rates are deliberately slow, for a first reading of technical text with the cells run:

- prose: 100 words a minute, under half the 238 words a minute that adults average when reading
  non-fiction silently (M. Brysbaert, *How many words do we read per minute? A review and meta-analysis
  of reading rate*, Journal of Memory and Language 109, 2019);
- a code cell: 45 seconds to read it, run it and read what it prints (a form: three minutes to try it);
- an exercise by its kind: recall 3 minutes, apply 7, decide 7, build 10, prove 10, break 15 (a break
  exercise is an attack worked out by hand, as the padding oracle in lesson 01);
- a quiz question: one and a half minutes.

These are a model, not a measurement of students: the estimate a lesson states is this model's total
rounded up to five minutes, and an instructor's own class may be slower or faster.

``python -m kmslib.course.timing notebooks/*.ipynb`` prints each notebook's estimate beside what it states;
with ``--write`` it sets each stated number to the estimate (only that number changes in the file).
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXERCISE_MINUTES", "Estimate", "estimate", "main", "stated_minutes", "write_estimate"]

WORDS_PER_MINUTE = 100
CODE_CELL_MINUTES = 0.75
FORM_MINUTES = 3.0
QUIZ_QUESTION_MINUTES = 1.5
#: Minutes for an exercise of each kind, the word in brackets after "**Exercise N**".
EXERCISE_MINUTES = {"recall": 3, "apply": 7, "decide": 7, "build": 10, "prove": 10, "break": 15}

_EXERCISE = re.compile(r"\*\*Exercise \d+\*\* \((\w+)\)")
_SHOWN_EXERCISE = re.compile(r"^Exercise \d+ \((\w+)\): ")  # a cell that shows ``qN`` (the capstone's way)
_QUESTION = re.compile(r"^\d+\. ", re.MULTILINE)
_STATED = re.compile(r"\*About (\d+) minutes")


@dataclass(frozen=True)
class Estimate:
    """A lesson's estimated minutes, by part.

    Attributes:
        reading: minutes to read the prose.
        cells: minutes for the code cells and forms.
        exercises: minutes for the checked exercises.
        quiz: minutes for the quiz.
    """

    reading: float
    cells: float
    exercises: float
    quiz: float

    @property
    def total(self) -> int:
        """The whole, rounded up to five minutes."""
        return 5 * math.ceil((self.reading + self.cells + self.exercises + self.quiz) / 5)


def _cells(path: Path) -> list[dict[str, object]]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells: list[dict[str, object]] = notebook["cells"]
    return cells


def _source(cell: dict[str, object]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(str(line) for line in source)  # type: ignore[attr-defined]


def _minutes(kind: str) -> int:
    if kind not in EXERCISE_MINUTES:
        raise ValueError(f"an exercise of kind {kind!r}: give it a time in EXERCISE_MINUTES")
    return EXERCISE_MINUTES[kind]


def estimate(path: Path) -> Estimate:
    """Estimate the minutes a careful first reading of one notebook takes, its exercises and quiz included.

    Args:
        path: the notebook (``.ipynb``), saved with its outputs (the quiz is counted from its printed questions).

    Raises:
        ValueError: an exercise is of a kind this module has no time for.
    """
    words = 0
    cells = 0.0
    exercises = 0.0
    questions = 0
    for cell in _cells(path):
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            words += len(text.split())
            exercises += sum(_minutes(kind) for kind in _EXERCISE.findall(text))
            continue
        tags = cell.get("metadata", {}).get("tags", [])  # type: ignore[attr-defined]
        cells += FORM_MINUTES if "form" in tags else CODE_CELL_MINUTES
        for output in cell.get("outputs", []):  # type: ignore[attr-defined]
            printed = output.get("data", {}).get("text/plain", "")
            printed = printed if isinstance(printed, str) else "".join(printed)
            if text.strip() == "quiz":
                questions += len(_QUESTION.findall(printed))
            elif re.fullmatch(r"q\d+", text.strip()):
                exercises += sum(_minutes(kind) for kind in _SHOWN_EXERCISE.findall(printed))
    return Estimate(
        reading=words / WORDS_PER_MINUTE,
        cells=cells,
        exercises=exercises,
        quiz=questions * QUIZ_QUESTION_MINUTES,
    )


def stated_minutes(path: Path) -> int | None:
    """The minutes a notebook states in its "*About N minutes" line, or None if it states none."""
    for cell in _cells(path):
        match = _STATED.search(_source(cell))
        if match:
            return int(match.group(1))
    return None


def write_estimate(path: Path) -> int:
    """Set the notebook's stated "*About N minutes" to its estimate; return the estimate.

    Raises:
        ValueError: the notebook states no time.
    """
    total = estimate(path).total
    text = path.read_text(encoding="utf-8")
    new, count = _STATED.subn(f"*About {total} minutes", text, count=1)  # a JSON string: the text is unchanged else
    if not count:
        raise ValueError(f"{path.name} states no '*About N minutes'")
    path.write_text(new, encoding="utf-8")
    return total


def main(argv: list[str] | None = None) -> int:
    """Print each notebook's estimate and stated time (``--write``: set the stated time to the estimate)."""
    args = sys.argv[1:] if argv is None else argv
    write = "--write" in args
    for name in (arg for arg in args if arg != "--write"):
        path = Path(name)
        stated = stated_minutes(path)
        total = write_estimate(path) if write else estimate(path).total
        print(f"{path.name}: the model says {total} minutes; it stated {stated}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
