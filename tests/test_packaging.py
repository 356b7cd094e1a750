"""The course as a student gets it without the repository: a wheel, a fresh venv, ``kmslib-course``."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from helpers import ROOT
from kmslib.course import cli

NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_copy_course_never_overwrites_a_students_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert [path.name for path in cli.course_notebooks()] == NOTEBOOKS
    assert cli.main([str(tmp_path / "class"), "--no-lab"]) == 0
    assert f"{len(NOTEBOOKS)} notebooks copied" in capsys.readouterr().out
    mine = tmp_path / "class" / NOTEBOOKS[1]
    mine.write_text("my answers")
    copied, kept = cli.copy_course(tmp_path / "class")
    assert copied == []
    assert len(kept) == len(NOTEBOOKS)
    assert mine.read_text() == "my answers"


@pytest.mark.slow
def test_a_wheel_in_a_fresh_venv_ships_the_course_and_its_command(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("kmslib-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, command = env_dir / "bin" / "python", env_dir / "bin" / "kmslib-course"
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)
    folder = tmp_path / "my course"
    done = subprocess.run([command, str(folder), "--no-lab"], check=True, capture_output=True, text=True)
    assert f"{len(NOTEBOOKS)} notebooks copied" in done.stdout
    assert sorted(path.name for path in folder.iterdir()) == NOTEBOOKS
    for name in NOTEBOOKS:
        assert (folder / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    again = subprocess.run(
        [python, "-m", "kmslib.course", str(folder), "--no-lab"], check=True, capture_output=True, text=True
    )
    assert f"0 notebooks copied, {len(NOTEBOOKS)} already there" in again.stdout
    # Without the course extra there is no JupyterLab: the command says which extra to install.
    lab = subprocess.run([command, str(tmp_path / "other")], capture_output=True, text=True, check=False)
    assert lab.returncode == 1
    assert 'pip install "kmslib[course]"' in lab.stdout
