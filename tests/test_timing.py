"""The time each lesson states is the course's reading model's estimate, not a guess (kmslib.course.timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmslib.course.timing import Estimate, estimate, stated_minutes

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_states_at_least_the_models_estimate(path: Path) -> None:
    stated = stated_minutes(path)
    assert stated is not None, f"{path.name} states no time"
    model = estimate(path).total
    assert model <= stated <= model + 10, f"{path.name} says {stated} minutes; the model says {model}"


def test_start_here_states_the_whole_course() -> None:
    text = NOTEBOOKS[0].read_text(encoding="utf-8")
    hours = sum(estimate(path).total for path in NOTEBOOKS) / 60
    assert f"about {round(hours)} hours" in text, f"00 should give the course's total, about {round(hours)} hours"


def _notebook(tmp_path: Path, cells: list[dict[str, object]]) -> Path:
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    return path


def test_the_model_counts_words_cells_forms_exercises_and_quiz_questions(tmp_path: Path) -> None:
    words = " ".join(["word"] * 200)
    path = _notebook(
        tmp_path,
        [
            {"cell_type": "markdown", "source": f"*About 5 minutes.* {words}"},
            {"cell_type": "markdown", "source": ["**Exercise 1** (recall). x\n", "**Exercise 2** (break). y"]},
            {"cell_type": "code", "source": "print(1)", "metadata": {}},
            {"cell_type": "code", "source": "Form()", "metadata": {"tags": ["form"]}},
            {
                "cell_type": "code",
                "source": "q3",
                "metadata": {},
                "outputs": [{"data": {"text/plain": ["Exercise 3 (build): Decide, then prove."]}}],
            },
            {
                "cell_type": "code",
                "source": "quiz",
                "metadata": {},
                "outputs": [{"data": {"text/plain": "1. Why?\n   a) x\n\n2. How?\n   a) y\n"}}],
            },
        ],
    )
    result = estimate(path)
    assert result == Estimate(
        reading=(3 + 200 + 8) / 100, cells=0.75 + 3 + 0.75 + 0.75, exercises=3 + 15 + 10, quiz=3.0
    )
    assert result.total == 40
    assert stated_minutes(path) == 5


def test_an_exercise_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    path = _notebook(tmp_path, [{"cell_type": "markdown", "source": "**Exercise 1** (ponder). x"}])
    with pytest.raises(ValueError, match="ponder"):
        estimate(path)


def test_write_sets_only_the_stated_number(tmp_path: Path) -> None:
    from kmslib.course.timing import main

    words = " ".join(["word"] * 2000)
    path = _notebook(tmp_path, [{"cell_type": "markdown", "source": f"# T\n\n*About 5 minutes.* {words}"}])
    before = path.read_text(encoding="utf-8")
    assert main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == before
    main([str(path), "--write"])
    assert stated_minutes(path) == estimate(path).total == 25
    assert path.read_text(encoding="utf-8") == before.replace("*About 5 minutes", "*About 25 minutes")
