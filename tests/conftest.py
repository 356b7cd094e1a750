"""Shared fixtures: a deterministic clock, custodians, and RSA keys made once per session."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, settings

from helpers import StepClock
from kmslib import KeyCustodian

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
