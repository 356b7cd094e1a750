"""Fixtures for the browser tests: a JupyterLab server and Debian's Chromium driven by Playwright.

Each test gets its own JupyterLab workspace (the URL names it, and ``?reset`` starts it empty),
so no test inherits another's open tabs. The server runs on a free loopback port with a random
token, from a temporary root holding a copy of the notebooks (so runs never write to the repo).
Locally, the tests are skipped with a message when /usr/bin/chromium is missing; in CI
(``CI=true``) a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from browser_support import require_chromium

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Path:
    return require_chromium(CHROMIUM, ci=os.environ.get("CI") == "true")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token, and the folder it serves."""

    url: str
    token: str
    root: Path

    def notebook_url(self, name: str, workspace: str) -> str:
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={self.token}"


@pytest.fixture(scope="session")
def lab(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    root, workspaces, settings, runtime = (base / name for name in ("root", "workspaces", "settings", "runtime"))
    shutil.copytree(ROOT / "notebooks", root)
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    # Render every cell (no virtual scrolling), so that forms far down a notebook are in the page.
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    workspaces.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={workspaces}",
        f"--LabApp.user_settings_dir={settings}", "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    log = (base / "server.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: see {log.name}") from None
                time.sleep(0.3)
        yield Lab(url, token, root)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


class Chromium:
    """Debian's Chromium under Playwright, launched again when it has gone away.

    A browser that crashes under load (twice seen on a busy two-core machine) would otherwise fail every later
    test of the session with "Target closed": the next page gets a fresh browser instead.
    """

    def __init__(self, playwright: Any, executable: Path) -> None:
        self._playwright, self._executable = playwright, executable
        self._instance: Any = None
        self.launches = 0

    def get(self) -> Any:
        """The running browser, launched again if it is gone."""
        if self._instance is None or not self._instance.is_connected():
            self._instance = self._playwright.chromium.launch(executable_path=str(self._executable), args=CHROMIUM_ARGS)
            self.launches += 1
        return self._instance

    def close(self) -> None:
        if self._instance is not None and self._instance.is_connected():
            self._instance.close()


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Chromium]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        holder = Chromium(playwright, chromium)
        yield holder
        holder.close()


@pytest.fixture
def page(browser: Chromium, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.get().new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    if page.is_closed() or not context.browser.is_connected():
        return  # the browser went away during the test: nothing to photograph or close
    SCREENSHOTS.mkdir(exist_ok=True)
    name = request.node.name.replace("[", "_").replace("]", "").replace(".ipynb", "")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    context.close()


#: What Playwright says when the browser itself went away mid-test (a crash, not the test's verdict).
BROWSER_GONE = "Target page, context or browser has been closed"


def _browser_gone(reports: list[pytest.TestReport]) -> bool:
    return any(report.failed and BROWSER_GONE in str(report.longrepr) for report in reports)


def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Run a browser test again, once, in a fresh browser, if the browser crashed under it.

    Only that failure is retried: any other failure, or a second crash, is reported as it happened.
    """
    if "page" not in getattr(item, "fixturenames", ()):
        return None
    from _pytest.runner import runtestprotocol

    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    if _browser_gone(reports):
        sys.stderr.write(f"\n{item.nodeid}: the browser went away mid-test; running it again in a fresh one\n")
        item._initrequest()  # type: ignore[attr-defined] # fresh function-scoped fixtures for the second run
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
