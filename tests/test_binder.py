"""The Binder environment: binder/requirements.txt installs into a fresh virtual environment and works.

repo2docker (what mybinder.org runs) installs binder/requirements.txt from the repository root,
and with a binder/ folder that file is all it installs: the "." line brings in kmslib itself.
This test does the same without Docker: a fresh venv, pip install -r from a copy of the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from helpers import ROOT

BINDER = ROOT / "binder"


def test_binder_folder_holds_what_repo2docker_reads() -> None:
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert "." in pins  # the project itself, resolved from the repository root
    for package in ("jupyterlab", "ipywidgets", "matplotlib", "cryptography"):
        assert any(re.fullmatch(rf"{package}==[\d.]+", pin) for pin in pins), package
    assert all(pin == "." or "==" in pin for pin in pins), "every requirement is an exact pin"
    assert re.fullmatch(r"python-3\.\d+", (BINDER / "runtime.txt").read_text().strip())
    assert os.access(BINDER / "postBuild", os.X_OK)


def test_binder_and_ci_install_softhsm2_for_the_hardware_lesson() -> None:
    """repo2docker installs binder/apt.txt's Debian packages; .ci/run installs the same on a fresh machine."""
    apt = [line for line in (BINDER / "apt.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert "softhsm2" in apt
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    assert any(re.fullmatch(r"python-pkcs11==[\d.]+", line) for line in requirements)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "missing+=(softhsm2)" in ci


def test_postbuild_switches_the_news_off(tmp_path: Path) -> None:
    subprocess.run([BINDER / "postBuild"], env={**os.environ, "NB_PYTHON_PREFIX": str(tmp_path)}, check=True)
    installed = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert '"fetchNews": "false"' in installed.read_text()


@pytest.mark.slow
def test_binder_requirements_install_into_a_fresh_environment(tmp_path: Path) -> None:
    source = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "__pycache__", ".*_cache", "screenshots"),
    )
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "binder/requirements.txt"],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    subprocess.run(  # what repo2docker runs after the install
        [source / "binder" / "postBuild"], env={**os.environ, "NB_PYTHON_PREFIX": str(env_dir)}, check=True
    )

    check = subprocess.run(
        [python, "-c", "import kmslib, kmslib.widgets, kmslib.course.pictures, kmslib.course.capstone; print('ok')"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,  # not the source tree: kmslib must come from the environment
    )
    assert check.stdout.strip() == "ok", check.stderr
    extensions = subprocess.run(
        [env_dir / "bin" / "jupyter", "labextension", "list"], capture_output=True, text=True, check=True
    )
    listing = extensions.stdout + extensions.stderr
    manager = [line for line in listing.splitlines() if "@jupyter-widgets/jupyterlab-manager" in line]
    assert manager, listing
    assert "enabled" in manager[0]
    assert "OK" in manager[0]
