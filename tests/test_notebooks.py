"""The course's notebooks as documents: structure, links, saved outputs (nbval runs them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.name for p in NOTEBOOKS]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def text(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def test_the_course_notebooks_exist() -> None:
    assert NAMES == [
        "00_start_here.ipynb",
        "01_aes.ipynb",
        "02_rsa.ipynb",
        "03_diffie_hellman.ipynb",
        "04_revocation_and_lifecycle.ipynb",
        "05_key_states.ipynb",
        "06_envelope_encryption.ipynb",
        "07_signatures_and_trust.ipynb",
        "08_sealed_storage.ipynb",
        "09_access_control.ipynb",
        "10_keys_in_hardware.ipynb",
        "11_certificates_and_revocation.ipynb",
        "12_capstone.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_goals_takeaways_and_links(path: Path) -> None:
    cells = load(path)["cells"]
    markdown = "\n".join(text(c) for c in cells if c["cell_type"] == "markdown")
    assert "## Learning goals" in markdown
    assert "## Key takeaways" in markdown
    index = NAMES.index(path.name)
    links = {link for link in re.findall(r"\]\(([^)]+\.ipynb)\)", markdown) if not link.startswith("http")}
    assert all(link in NAMES for link in links), links
    if index > 0:
        assert NAMES[index - 1] in links
        assert "00_start_here.ipynb" in links
    if index < len(NAMES) - 1:
        assert NAMES[index + 1] in links


def test_start_here_links_every_notebook_and_binder() -> None:
    markdown = "\n".join(text(c) for c in load(NOTEBOOKS[0])["cells"] if c["cell_type"] == "markdown")
    for name in NAMES:
        assert f"]({name})" in markdown
    assert "make lab" in markdown
    assert "mybinder.org" in markdown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_saved_from_one_clean_run(path: Path) -> None:
    notebook = load(path)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in notebook["metadata"]  # no stale widget state
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    counts = []
    for cell in code:
        tags = cell["metadata"].get("tags", [])
        if "form" in tags:
            assert cell["execution_count"] is None
            assert cell["outputs"] == []
            continue
        assert cell["execution_count"] is not None, text(cell)[:60]
        counts.append(cell["execution_count"])
        for output in cell["outputs"]:
            assert output["output_type"] != "error" or "raises-exception" in tags
            assert not (output["output_type"] == "stream" and output["name"] == "stderr"), text(cell)[:60]
            shown = json.dumps(output.get("data", {})) + "".join(output.get("text", []))
            assert "Warning" not in shown, text(cell)[:60]
    assert counts == sorted(set(counts)), "cells run out of order, or twice"
    assert counts[0] == 1


@pytest.mark.parametrize("path", NOTEBOOKS[1:5], ids=NAMES[1:5])
def test_each_lesson_has_a_form_and_a_picture(path: Path) -> None:
    cells = load(path)["cells"]
    forms = [c for c in cells if "form" in c["metadata"].get("tags", [])]
    assert forms
    assert all("kmslib.widgets" in text(c) or "Form()" in text(c) for c in forms)
    pictures = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"] if "image/png" in o.get("data", {})]
    assert pictures, "each lesson shows a picture made in the notebook"


#: How a picture's text alternative begins: JupyterLab gives an image/png output no alt text, so the
#: markdown cell right after the picture describes it (WCAG 2.1 SC 1.1.1).
PICTURE_IN_WORDS = "*Picture in words:* "


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_every_picture_is_described_in_words_right_after_it(path: Path) -> None:
    cells = load(path)["cells"]
    undescribed = [
        text(cell)[:60]
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code"
        and any("image/png" in o.get("data", {}) for o in cell["outputs"])
        and not (
            i + 1 < len(cells)
            and cells[i + 1]["cell_type"] == "markdown"
            and text(cells[i + 1]).startswith(PICTURE_IN_WORDS)
            and len(text(cells[i + 1])) > 120
        )
    ]
    assert undescribed == []


def test_no_helper_is_defined_in_a_notebook() -> None:
    """Helper code lives in kmslib, never in (or copied between) notebooks."""
    for path in NOTEBOOKS:
        for cell in load(path)["cells"]:
            if cell["cell_type"] == "code":
                assert not re.search(r"^\s*(def|class) ", text(cell), re.MULTILINE), (path.name, text(cell)[:60])


LESSONS = [path for path in NOTEBOOKS if path.name[:2] in {"01", "02", "03", "04", "05", "06", "07", "09", "10"}]


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_each_lesson_meets_the_course_standard(path: Path) -> None:
    # A time estimate and prerequisites first; four checked exercises of rising difficulty, whose tasks are
    # the checkers' own; a quiz with every question asked; further reading from primary sources.
    import importlib

    cells = load(path)["cells"]
    markdown = [text(c) for c in cells if c["cell_type"] == "markdown"]
    code = "\n".join(text(c) for c in cells if c["cell_type"] == "code")
    first = next(m for m in markdown if m.startswith("# "))
    assert re.search(r"\*About \d+ minutes\. Prerequisites: .+\.\*", first), first[:200]
    assert first.index("minutes") < first.index("## Learning goals")
    lesson = importlib.import_module(f"kmslib.course.lesson{path.name[:2]}")
    exercises = [getattr(lesson, f"q{n}") for n in range(1, 5)]
    levels = [q.level for q in exercises]
    assert levels[0] == "recall"
    assert {"build", "break"} & set(levels[2:])
    for n, exercise in enumerate(exercises, 1):
        assert f"q{n}.check(" in code
        assert any(exercise.task in m for m in markdown), f"the task of q{n} is not in the notebook"
    assert "## Quiz" in "\n".join(markdown)
    assert all(f"quiz.answer({n}, " in code for n in range(1, len(lesson.quiz.questions) + 1))
    assert 3 <= len(lesson.quiz.questions) <= 5
    reading = next(m for m in markdown if m.startswith("## Further reading"))
    assert len(re.findall(r"<https://", reading)) >= 4
    order = [m.split("\n", 1)[0] for m in markdown if m.startswith("## ")]
    assert order.index("## Exercises") < order.index("## Key takeaways") < order.index("## Quiz")
    assert order[-1] == "## Further reading"
