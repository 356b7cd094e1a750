"""Helpers the tests share (kept out of conftest.py, which is not importable by a unique name)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Published test vectors, vendored with their licence (see SOURCE.md there).
VECTORS = ROOT / "tests" / "vectors" / "wycheproof"


class StepClock:
    """A clock that starts at a fixed UTC time and moves one second per call."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now
