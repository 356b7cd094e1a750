"""No existence oracle in time: a principal's denial takes the same steps whether or not the key exists.

The message and the audit entry are the same (``tests/test_principals.py``); wall-clock time is measured in
``benchmarks/oracle.py`` (timings never go in tests). What a test can check without a clock is the cause of a time
difference: the Python and C functions a denied call runs. Before the fix, a key with a policy ran the policy's
full evaluation a second time, uncached, and a missing key did not: about 2 µs, 1.5x, in the benchmark.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from kmslib import KeyCustodian
from kmslib.errors import AccessDeniedError


def steps(call: Callable[[], object]) -> list[str]:
    """The functions ``call`` runs (Python and C), in order, for a call that must be denied."""
    seen: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            seen.append(frame.f_code.co_qualname)
        elif event == "c_call":
            seen.append(getattr(arg, "__qualname__", repr(arg)))

    sys.setprofile(profile)
    try:
        call()
    except AccessDeniedError:
        pass
    else:
        raise AssertionError("the call was not denied")
    finally:
        sys.setprofile(None)
    return seen


@pytest.mark.parametrize(
    "method", ["decrypt_data_aes", "rotate_key", "key_info", "list_grants", "get_key_policy", "invalidate_key"]
)
def test_a_denial_takes_the_same_steps_whether_or_not_the_key_exists(method: str) -> None:
    kms = KeyCustodian()
    for key_id in ("k-others", "k-none"):
        kms.establish_aes_key(key_id)
    kms.set_key_policy("k-others", {"Statement": [{"Effect": "Allow", "Principal": "alice", "Action": "kms:*"}]})
    token = kms.encrypt_data_aes("k-none", "x")
    mallory = kms.as_principal(kms.issue_credential("mallory"))

    def denied(key_id: str) -> Callable[[], object]:
        if method == "decrypt_data_aes":
            return lambda: mallory.decrypt_data_aes(key_id, token)
        return lambda: getattr(mallory, method)(key_id)

    for key_id in ("k-missing", "k-others", "k-none"):
        steps(denied(key_id))  # the first call of each fills the caches, as an attacker's first probe would
    missing = steps(denied("k-missing"))
    assert steps(denied("k-others")) == missing  # a policy that names only others
    assert steps(denied("k-none")) == missing  # no policy: the owner's alone
