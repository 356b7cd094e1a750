"""Each notebook cell's CPU time in its kernel: the course's per-cell profile (README, "Load").

Runs every notebook top to bottom in a fresh kernel, on a copy (nothing is written), with IPython's
``pre_run_cell`` and ``post_run_cell`` events reading ``time.process_time()``: the CPU the kernel process
spent on the cell, all its threads included. CPU spent in a child process (lesson 08's crash demo runs one)
is not the kernel's and is not counted; wall time is printed beside it.

A cell over the budget (0.5 s of CPU) must say in its first line that its cost is the lesson: a comment
containing "CPU" (for instance ``# Key generation is the lesson here: this cell takes about 2 s of CPU.``).
The script prints every cell over 0.1 s, then a summary per notebook, and exits with 1 if a cell over the
budget does not say so. Timings belong here, never in tests.

Usage: ``python benchmarks/cells.py [NOTEBOOK ...] [--json PATH] [--readme]`` (``--readme`` rewrites the README's
table between ``<!-- cells-profile -->`` and ``<!-- /cells-profile -->`` with this run's figures).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 0.5
SHOWN = 0.1

_SETUP = """\
import json as _kmslib_json, time as _kmslib_time
_kmslib_cells = []
_kmslib_start = [_kmslib_time.process_time(), _kmslib_time.perf_counter()]
def _kmslib_pre(*_):
    _kmslib_start[:] = [_kmslib_time.process_time(), _kmslib_time.perf_counter()]
def _kmslib_post(*_):
    cpu, wall = _kmslib_start
    _kmslib_cells.append([_kmslib_time.process_time() - cpu, _kmslib_time.perf_counter() - wall])
get_ipython().events.register("pre_run_cell", _kmslib_pre)
get_ipython().events.register("post_run_cell", _kmslib_post)
"""
_REPORT = 'print("KMSLIB-CELLS" + _kmslib_json.dumps(_kmslib_cells))'


@dataclass(frozen=True)
class Cell:
    """One code cell's cost: its index in the notebook, its first line, CPU and wall seconds."""

    cell: int
    first_line: str
    cpu: float
    wall: float

    @property
    def says_so(self) -> bool:
        """Whether its first line says what it costs."""
        return "CPU" in self.first_line


def profile(path: Path) -> list[Cell]:
    """Run one notebook and return, for each code cell, its index, first line, CPU and wall seconds."""
    from kmslib.course.execute import run_notebook  # noqa: PLC0415 - Jupyter machinery, loaded only here

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        shutil.copy(path, copy)
        for extra in path.parent.iterdir():  # anything the notebook reads beside it
            if extra.is_file() and extra.suffix != ".ipynb":
                shutil.copy(extra, Path(folder) / extra.name)
        notebook = nbformat.read(copy, as_version=4)
        code = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        notebook.cells.insert(0, nbformat.v4.new_code_cell(_SETUP))
        notebook.cells.append(nbformat.v4.new_code_cell(_REPORT))
        nbformat.write(notebook, copy)
        executed, _ = run_notebook(copy, timeout=600)
    printed = "".join(output.get("text", "") for output in executed.cells[-1].outputs)
    times = json.loads(printed.split("KMSLIB-CELLS", 1)[1])[1:]  # the first is the setup cell's own
    return [
        Cell(index, cell.source.splitlines()[0] if cell.source else "", cpu, wall)
        for (index, cell), (cpu, wall) in zip(code, times, strict=True)
    ]


def readme_table(results: dict[str, list[Cell]]) -> str:
    """The README's rows: per notebook, its code cells, the median CPU, the slowest cell and why it costs that."""
    rows = []
    for name, cells in results.items():
        slow = max(cells, key=lambda cell: cell.cpu)
        why = slow.first_line.lstrip("# ").strip() if slow.cpu > BUDGET else "-"
        median = statistics.median(cell.cpu for cell in cells)
        rows.append(
            f"| `{Path(name).stem}` | {len(cells)} | {median:.3f} s | {slow.cpu:.2f} s (cell {slow.cell}) | {why} |"
        )
    return "\n".join(rows)


def write_readme(results: dict[str, list[Cell]], readme: Path = ROOT / "README.md") -> None:
    """Put :func:`readme_table` between the README's cells-profile markers, under their header rows."""
    text = readme.read_text(encoding="utf-8")
    marked = re.compile(r"(<!-- cells-profile -->\n\|[^\n]*\n\|[^\n]*\n)(?:\|[^\n]*\n)*(<!-- /cells-profile -->)")
    if not marked.search(text):
        raise SystemExit("README.md has no cells-profile table to rewrite")
    readme.write_text(marked.sub(lambda m: m.group(1) + readme_table(results) + "\n" + m.group(2), text), "utf-8")


def main(argv: list[str] | None = None) -> int:
    """Profile the notebooks, print the table, and return 1 if a costly cell does not say so."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, help="also write the profile here")
    parser.add_argument("--readme", action="store_true", help="rewrite the README's per-cell table")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results: dict[str, list[Cell]] = {}
    unsaid = 0
    print(f"{'notebook':<36}{'cell':>5}{'CPU s':>8}{'wall s':>8}  first line")
    for path in paths:
        rows = profile(path)
        results[path.name] = rows
        for row in rows:
            if row.cpu >= SHOWN:
                flag = "" if row.cpu <= BUDGET or row.says_so else "   <- over 0.5 s and does not say so"
                unsaid += bool(flag)
                print(f"{path.name:<36}{row.cell:>5}{row.cpu:>8.2f}{row.wall:>8.2f}  {row.first_line[:60]}{flag}")
    print(f"\n{'notebook':<36}{'cells':>6}{'median':>8}{'max':>8}{'total':>8}  (CPU seconds)")
    for name, rows in results.items():
        cpus = [row.cpu for row in rows]
        print(f"{name:<36}{len(cpus):>6}{statistics.median(cpus):>8.3f}{max(cpus):>8.2f}{sum(cpus):>8.2f}")
    if args.json:
        table = {name: [asdict(row) for row in rows] for name, rows in results.items()}
        args.json.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    if args.readme:
        write_readme(results)
    return 1 if unsaid else 0


if __name__ == "__main__":
    sys.exit(main())
