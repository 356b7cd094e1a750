"""Re-execute the course's notebooks in place, as ``make notebooks`` does.

Each notebook runs top to bottom in a fresh kernel of the current environment, from its own
folder. Cells tagged ``form`` are then saved without outputs or execution count (so nobody
opening a notebook sees a stale widget, and nbval does not compare them), and no widget state
is stored. Every other cell keeps the outputs nbval compares.

Usage: ``python -m kmslib.course.execute [NOTEBOOK_OR_FOLDER ...]`` (default: ``notebooks``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

__all__ = ["execute_notebook", "main", "run_notebook"]


def run_notebook(path: Path, timeout: int = 120) -> tuple[nbformat.NotebookNode, float]:
    """Run one notebook top to bottom in a fresh kernel, without saving it.

    Returns:
        The executed notebook and the seconds the run took (kernel start included).

    Raises:
        nbclient.exceptions.CellExecutionError: a cell not tagged ``raises-exception`` raised.
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,
    )
    start = time.perf_counter()
    client.execute()
    return notebook, time.perf_counter() - start


def execute_notebook(path: Path, timeout: int = 120) -> float:
    """Execute one notebook in place (form cells saved without output); return the seconds it took.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell not tagged ``raises-exception`` raised.
    """
    notebook, elapsed = run_notebook(path, timeout)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "form" in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Execute the notebooks named (files or folders) and print how long each took."""
    targets = [Path(a) for a in (argv if argv is not None else sys.argv[1:])] or [Path("notebooks")]
    paths = []
    for target in targets:
        paths += sorted(target.glob("[0-9][0-9]_*.ipynb")) if target.is_dir() else [target]
    for path in paths:
        print(f"{path}: {execute_notebook(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
