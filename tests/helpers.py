"""Helpers the tests share (kept out of conftest.py, which is not importable by a unique name)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import kmslib
from kmslib.aes import AESKeyVersion
from kmslib.custodian import _Key
from kmslib.dh import DHPrivateKey
from kmslib.rsa import RSAKeyVersion
from kmslib.signing import SigningKeyVersion

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


KMSLIB_DIR = str(Path(kmslib.__file__).parent)


#: Key objects: none may be a local of a kmslib frame in a raised error's traceback.
KEY_OBJECTS = (
    AESKeyVersion,
    RSAKeyVersion,
    _Key,
    AESGCM,
    algorithms.AES,
    rsa.RSAPrivateKey,
    x25519.X25519PrivateKey,
    DHPrivateKey,
    SigningKeyVersion,
    ed25519.Ed25519PrivateKey,
    ec.EllipticCurvePrivateKey,
)


def _values(value: object, depth: int = 2) -> Iterator[object]:
    """``value`` and what containers hold, ``depth`` levels down."""
    yield value
    if depth == 0:
        return
    if isinstance(value, dict):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, (tuple, list, set, frozenset)):
        items = list(value)
    else:
        return
    for item in items:
        yield from _values(item, depth - 1)


def leaks(exc: BaseException, secrets: list[bytes]) -> list[str]:
    """What the error exposes: its cause, its context, and secrets in its kmslib frames' locals."""
    found = []
    if exc.__cause__ is not None:
        found.append(f"__cause__ = {type(exc.__cause__).__name__}")
    if exc.__context__ is not None:
        found.append(f"__context__ = {type(exc.__context__).__name__}")
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_filename.startswith(KMSLIB_DIR):
            where = f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_qualname}"
            for name, local in frame.f_locals.items():
                for value in _values(local):
                    if isinstance(value, KEY_OBJECTS):
                        found.append(f"{where} local {name!r} holds a {type(value).__name__}")
                    elif isinstance(value, (bytes, bytearray, memoryview, str)):
                        raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
                        found.extend(
                            f"{where} local {name!r} holds a secret" for secret in secrets if secret and secret in raw
                        )
        tb = tb.tb_next
    return found


# ---------------------------------------------------------------- key policies and principals (contract section 11)


def allow(principal: object, action: object, **extra: object) -> dict[str, object]:
    """An Allow statement; ``extra`` adds fields such as ``Condition`` or ``Sid``."""
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


def deny(principal: object, action: object, **extra: object) -> dict[str, object]:
    """A Deny statement; ``extra`` adds fields such as ``Condition`` or ``Sid``."""
    return {"Effect": "Deny", "Principal": principal, "Action": action, **extra}


def policy(*statements: dict[str, object]) -> dict[str, object]:
    """A key policy document of ``statements``."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def approvals(n: int) -> dict[str, object]:
    """The condition that asks ``n`` approvals (dual control)."""
    return {"NumericGreaterThanEquals": {"kmslib:Approvals": n}}


def view(kms: Any, name: str) -> Any:
    """``kms`` acting as principal ``name``, with a credential issued for it."""
    return kms.as_principal(kms.issue_credential(name))


def succeeded_after(principal: Any, key_id: str, token: str, withdraw: Callable[[], object]) -> list[str]:
    """The calls that started after ``withdraw`` returned and still succeeded: there must be none.

    Four threads encrypt and decrypt with ``key_id`` as ``principal``; once 200 calls have succeeded, ``withdraw``
    (a revocation, a new policy...) runs, and each thread stops at its first refusal after it returned.
    """
    withdrawn = threading.Event()
    late: list[str] = []
    done = [0]

    def work(decrypt: bool) -> None:
        for _ in range(100_000):
            was_withdrawn = withdrawn.is_set()  # read before the call: set only once withdraw has returned
            try:
                if decrypt:
                    principal.decrypt_data_aes(key_id, token)
                else:
                    principal.encrypt_data_aes(key_id, "x")
            except kmslib.AccessDeniedError:
                if was_withdrawn:
                    return
                continue
            done[0] += 1
            if was_withdrawn:
                late.append("decrypt" if decrypt else "encrypt")

    threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(4)]
    for thread in threads:
        thread.start()
    while done[0] < 200:  # readiness, not a fixed time
        pass
    withdraw()
    withdrawn.set()
    for thread in threads:
        thread.join()
    return late
