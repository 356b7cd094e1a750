"""SoftHSM2 for the tests and the course: a private configuration, and fresh tokens in it.

SoftHSM2 (Debian's ``softhsm2``) is a software PKCS#11 token: the same interface as an HSM, with its
objects in files on the host, encrypted under the user PIN. It protects nothing a real HSM's hardware
does (see :mod:`kmslib.hsm`); it is here so that the same code runs in a classroom and in CI.

SoftHSM2 reads its configuration file (named by the ``SOFTHSM2_CONF`` environment variable) when the
module is initialised, and sees tokens made later only after it is initialised again. So
:meth:`SoftHSM.new_token` points ``SOFTHSM2_CONF`` at this object's own folder, makes the token with
``softhsm2-util --init-token --free``, and restarts the module in this process: every session open
on it before then is lost (a :class:`kmslib.HardwareToken` opened earlier then raises
:class:`~kmslib.errors.HardwareError` and must be opened again). The system's tokens
(``/var/lib/softhsm/tokens``) are never touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from kmslib.errors import HardwareError

__all__ = ["MODULE_PATHS", "SoftHSM", "module_path", "unavailable"]

#: Where distributions install SoftHSM2's PKCS#11 module (Debian and Ubuntu first).
MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
)
_INSTALL = "install SoftHSM2 (Debian/Ubuntu: apt-get install softhsm2) and python-pkcs11 (pip install 'kmslib[hsm]')"
#: How long softhsm2-util may take to make a token before it is taken as hung (it takes well under a second).
_UTIL_TIMEOUT = 120


def module_path() -> str | None:
    """The path of SoftHSM2's PKCS#11 module on this machine, or ``None``."""
    return next((path for path in MODULE_PATHS if os.path.isfile(path)), None)


def unavailable() -> str | None:
    """Why SoftHSM2 cannot be used here (with how to install it), or ``None`` if it can."""
    missing = []
    if module_path() is None:
        missing.append("SoftHSM2's module")
    if shutil.which("softhsm2-util") is None:
        missing.append("softhsm2-util")
    try:
        import pkcs11  # noqa: F401, PLC0415 - only asked here
    except ImportError:
        missing.append("python-pkcs11")
    return f"no {', no '.join(missing)}: {_INSTALL}" if missing else None


class SoftHSM:
    """A SoftHSM2 configuration and token folder of its own, in ``directory``.

    Args:
        directory: an empty or new folder; the configuration file and the tokens go in it.

    Raises:
        HardwareError: SoftHSM2 or python-pkcs11 is not installed (the message says how to install them).

    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        problem = unavailable()
        if problem is not None:
            raise HardwareError(problem)
        self.module = str(module_path())
        self.directory = Path(directory)
        tokens = self.directory / "tokens"
        tokens.mkdir(parents=True, exist_ok=True)
        self.config = self.directory / "softhsm2.conf"
        self.config.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
            encoding="utf-8",
        )

    def new_token(self, label: str | None = None, *, pin: str | None = None) -> tuple[str, str]:
        """Make a fresh token in this folder and restart the module so that this process sees it.

        Args:
            label: the token's label (a fresh one if ``None``); at most 32 characters.
            pin: its user PIN (a fresh random one if ``None``).

        Returns:
            ``(label, pin)``: open it with ``kmslib.HardwareToken(self.module, token_label=label, pin=pin)``.

        Raises:
            HardwareError: softhsm2-util failed (its message, which holds no PIN, says why).
        """
        label = label or f"kmslib-{secrets.token_hex(4)}"
        pin = pin or secrets.token_hex(8)
        environment = {**os.environ, "SOFTHSM2_CONF": str(self.config)}
        command = ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin]
        command += ["--so-pin", secrets.token_hex(8)]
        done = subprocess.run(  # noqa: S603 - a fixed program, arguments as a list
            command, env=environment, capture_output=True, text=True, timeout=_UTIL_TIMEOUT, check=False
        )
        if done.returncode != 0:
            message = (done.stderr or done.stdout).replace(pin, "****").strip()[:200]
            raise HardwareError(f"softhsm2-util could not make token {label!r}: {message}")
        os.environ["SOFTHSM2_CONF"] = str(self.config)
        import pkcs11  # noqa: PLC0415 - installed: unavailable() checked it

        pkcs11.lib(self.module).reinitialize()  # SoftHSM2 reads its configuration and tokens when initialised
        return label, pin

    def __repr__(self) -> str:
        return f"SoftHSM(directory={str(self.directory)!r})"
