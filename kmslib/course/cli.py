"""``kmslib-course [FOLDER]``: copy the course's notebooks into a folder and open JupyterLab there.

For a student who installed ``kmslib[course]`` from a package index, without the repository.
``python -m kmslib.course`` does the same.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["course_notebooks", "copy_course", "main"]


def course_notebooks() -> list[Path]:
    """The course's notebooks: those shipped in the package, or a checkout's ``notebooks/`` folder.

    Raises:
        FileNotFoundError: neither is there (a broken install).
    """
    shipped = Path(__file__).resolve().parent / "notebooks"
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    for folder in (shipped, checkout):
        found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
        if found:
            return found
    raise FileNotFoundError("the course's notebooks are not installed: reinstall kmslib[course]")


def copy_course(folder: Path) -> tuple[list[Path], list[Path]]:
    """Copy the notebooks into ``folder`` (made if missing), never over a file that is already there.

    Returns:
        The notebooks copied, and those left alone because ``folder`` had them (a student's work).
    """
    folder.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for notebook in course_notebooks():
        target = folder / notebook.name
        if target.exists():
            kept.append(target)
        else:
            shutil.copy2(notebook, target)
            copied.append(target)
    return copied, kept


def main(argv: list[str] | None = None) -> int:
    """Copy the course into FOLDER and open JupyterLab on its first notebook (``--no-lab``: copy only)."""
    parser = argparse.ArgumentParser(prog="kmslib-course", description=__doc__.split("\n", 1)[0])
    parser.add_argument("folder", nargs="?", default="kmslib-course", help="where to put the notebooks")
    parser.add_argument("--no-lab", action="store_true", help="copy the notebooks, do not start JupyterLab")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    copied, kept = copy_course(folder)
    print(f"kmslib course in {folder.resolve()}: {len(copied)} notebooks copied", end="")
    print(f", {len(kept)} already there and left as they were" if kept else "")
    if args.no_lab:
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        print('JupyterLab is not installed: pip install "kmslib[course]", then run kmslib-course again.')
        return 1
    first = sorted(path.name for path in [*copied, *kept])[0]
    return subprocess.call([sys.executable, "-m", "jupyterlab", first], cwd=folder)  # noqa: S603 - our own command


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
