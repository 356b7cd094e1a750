"""Shared fixtures: a deterministic clock, custodians, and RSA keys made once per session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, settings

from helpers import StepClock
from kmslib import HardwareToken, KeyCustodian
from kmslib.softhsm import SoftHSM, unavailable

settings.register_profile(
    "kmslib", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile("ci", parent=settings.get_profile("kmslib"), max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "kmslib")


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def kms(clock: StepClock) -> KeyCustodian:
    """A fresh custodian with a deterministic clock."""
    return KeyCustodian(clock=clock)


@pytest.fixture(scope="session")
def rsa_pems() -> Callable[[int], str]:
    """Unencrypted PKCS#8 PEMs of RSA-2048 keys, made once per session: rsa_pems(i) is the i-th."""
    made: list[str] = []

    def get(index: int) -> str:
        while len(made) <= index:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            made.append(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ).decode("ascii")
            )
        return made[index]

    return get


# ---------------------------------------------------------------- hardware tokens (contract section 12)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHSM:
    """SoftHSM2 with a configuration and token folder of this test session's own (never the system's tokens).

    Without SoftHSM2 the HSM tests skip, saying how to install it; in CI (``CI`` set) they fail instead.
    """
    problem = unavailable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the HSM tests: {problem}")
        pytest.skip(problem)
    return SoftHSM(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture
def token(softhsm: SoftHSM) -> Iterator[HardwareToken]:
    """A fresh SoftHSM2 token for this test, logged in."""
    label, pin = softhsm.new_token()
    opened = HardwareToken(softhsm.module, token_label=label, pin=pin)
    yield opened
    opened.close()


@pytest.fixture
def hsm_kms(clock: StepClock, token: HardwareToken) -> KeyCustodian:
    """A custodian with a fresh token and the deterministic clock."""
    return KeyCustodian(clock=clock, hsm=token)
