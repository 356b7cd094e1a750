"""Build hook: ship the course's notebooks inside the package, as kmslib/course/notebooks.

A student who ran ``pip install "kmslib[course]"`` gets them with ``kmslib-course``. Everything else is in
pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithNotebooks(build_py):  # type: ignore[misc]
    """build_py, then copy notebooks/NN_*.ipynb into the built package."""

    def run(self) -> None:
        """Build the package as usual, then add the notebooks to it."""
        super().run()
        target = Path(self.build_lib, "kmslib", "course", "notebooks")
        shutil.rmtree(target, ignore_errors=True)  # a notebook renamed since an earlier build must not ship twice
        target.mkdir(parents=True)
        for notebook in sorted((HERE / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            shutil.copy2(notebook, target / notebook.name)


setup(cmdclass={"build_py": BuildWithNotebooks})
