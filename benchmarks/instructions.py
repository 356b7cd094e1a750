"""AES-GCM round trips counted in CPU instructions (valgrind's callgrind), which do not drift.

Wall-clock times on a shared machine drift by tens of percent; instruction counts are the same
on every run for the same code, so they show what a change to the hot path really saved. Each
case runs in a fresh interpreter under callgrind twice, with ``--calls`` round trips and with
twice as many; the difference, divided by ``--calls``, is the count per round trip (the start-up
work, the same in both, cancels out).

valgrind emulates a CPU without AVX-512, so OpenSSL takes its AVX2 code paths here: the counts
of the AES work itself differ from the real CPU's, the counts of the Python around it do not.

Usage: ``python benchmarks/instructions.py [--size BYTES] [--calls N]`` (``make bench`` runs it
when valgrind is installed).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = ["raw pyca AESGCM", "AESGCM + text token (floor)", "kmslib aes-256-gcm", "Tink AEAD AES256_GCM", "pyca Fernet"]

PROGRAM = """
import os, sys
sys.path.insert(0, {here!r})
import run
case = run.round_trips(os.urandom({size}), tink={tink!r})[{name!r}]
case()  # warm up: first-use work (codec choice, header cache) is not per call
for _ in range({calls}):
    case()
"""


def count(name: str, size: int, calls: int) -> int:
    """Instructions that ``calls`` round trips of case ``name`` take (a fresh interpreter each time)."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-c",
        PROGRAM.format(here=str(HERE), size=size, name=name, calls=calls, tink="Tink" in name),
    ]
    # A fixed hash seed makes the interpreter's own work the same in every run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no count for {name!r}:\n{result.stderr[-2000:]}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    """Print instructions per round trip for each case, and the ratio to raw pyca."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="message size in bytes (default 1024)")
    parser.add_argument("--calls", type=int, default=2000, help="round trips counted per case (default 2000)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instruction counts (apt-get install valgrind)")
        return 0
    sys.path.insert(0, str(HERE))
    import run  # noqa: PLC0415 - the cases are the wall-clock benchmark's own

    available = run.round_trips(b"", tink=True)
    print(f"AES-GCM round trips of {args.size} bytes, instructions per round trip (callgrind)")
    per_call: dict[str, float] = {}
    for name in CASES:
        if name not in available:
            print(f"{name:<32}{'not installed':>14}")
            continue
        per_call[name] = (count(name, args.size, 2 * args.calls) - count(name, args.size, args.calls)) / args.calls
        ratio = per_call[name] / per_call[CASES[0]]
        print(f"{name:<32}{per_call[name]:>14,.0f}{ratio:>8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
