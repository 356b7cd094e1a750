"""Without Chromium, browser tests skip locally with a message, and fail in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_support import require_chromium


def test_missing_browser_skips_locally(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium(tmp_path / "no-chromium", ci=False)


def test_missing_browser_fails_in_ci(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        require_chromium(tmp_path / "no-chromium", ci=True)


def test_present_browser_is_used(tmp_path: Path) -> None:
    browser = tmp_path / "chromium"
    browser.touch()
    assert require_chromium(browser, ci=True) == browser
