"""What the browser tests need besides fixtures (conftest.py cannot be imported by name)."""

from __future__ import annotations

from pathlib import Path

import pytest


def require_chromium(path: Path, ci: bool) -> Path:
    """Return ``path`` if the browser is there; else skip (locally) or fail (in CI) with a clear message."""
    if not path.exists():
        message = f"{path} is missing: install Debian's chromium (apt-get install chromium) to run browser tests"
        if ci:
            pytest.fail(message)
        pytest.skip(message)
    return path
