"""Without Chromium, browser tests skip locally with a message, and fail in CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


_CRASHES: list[int] = []


def test_a_browser_that_goes_away_mid_test_is_replaced_and_the_test_run_again(page: Any, browser: Any) -> None:
    """The conftest's retry: the first run closes the browser under its page, as a crash would; the second passes."""
    _CRASHES.append(len(_CRASHES))
    if len(_CRASHES) == 1:
        browser.get().close()
        page.goto("about:blank")  # Playwright: the target has been closed
    assert page.evaluate("1 + 1") == 2
    assert _CRASHES == [0, 1]
    assert browser.launches >= 2
