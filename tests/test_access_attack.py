"""Attacks on access control (contract section 11) by a principal holding a credential, not the owner.

Defects found by these attacks, each fixed (the tests below failed before):

- A dual-control approval was bound to the call by ``repr`` of its arguments: a ``str`` subclass with a
  forged ``__repr__`` made another call look like the approved one, and a ``bytearray`` changed after the
  binding was computed ran other bytes than were approved.

Attacks that held (no defect), with a test for the most important:

- Decrypting or rewrapping another key's token or envelope under a key the principal may use: refused by
  the cryptography (the token's key is checked), not only by the policy.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from helpers import StepClock
from kmslib import AccessDeniedError, ApprovalRequiredError, DecryptionError, KeyCustodian


def allow(principal: object, action: object, **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


def deny(principal: object, action: object, **extra: object) -> dict[str, object]:
    return {"Effect": "Deny", "Principal": principal, "Action": action, **extra}


def policy(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def approvals(n: int) -> dict[str, object]:
    return {"NumericGreaterThanEquals": {"kmslib:Approvals": n}}


def view(kms: KeyCustodian, name: str) -> KeyCustodian:
    return kms.as_principal(kms.issue_credential(name))


class HookClock(StepClock):
    """A step clock that runs ``hook`` once, at its next reading: another thread acting at that moment."""

    def __init__(self) -> None:
        super().__init__()
        self.hook: object = None

    def __call__(self) -> datetime:
        hook, self.hook = self.hook, None
        if callable(hook):
            hook()
        return super().__call__()


@pytest.fixture
def dual() -> tuple[KeyCustodian, HookClock]:
    """Key ``prod``: alice, bob and carol may decrypt, envelope-decrypt and revoke it with one approval."""
    clock = HookClock()
    kms = KeyCustodian(clock=clock)
    kms.establish_aes_key("prod")
    kms.set_key_policy(
        "prod",
        policy(allow(["alice", "bob", "carol"], ["kms:Decrypt", "kms:RevokeKey"], Condition=approvals(1))),
    )
    return kms, clock


def request(call: object) -> str:
    with pytest.raises(ApprovalRequiredError) as caught:
        call()  # type: ignore[operator]
    return caught.value.request_id


# ---------------------------------------------------------------------------------------------- defects


def test_an_approval_cannot_be_reused_by_a_str_whose_repr_lies(dual: tuple[KeyCustodian, HookClock]) -> None:
    kms, _ = dual
    harmless = kms.encrypt_data_aes("prod", "harmless")
    payroll = kms.encrypt_data_aes("prod", "PAYROLL")
    alice, bob = view(kms, "alice"), view(kms, "bob")

    class Masked(str):
        def __repr__(self) -> str:
            return repr(harmless)

    bob.approve(request(lambda: alice.decrypt_data_aes("prod", harmless)))
    with pytest.raises(ApprovalRequiredError):  # another token: another request, whatever its repr says
        alice.decrypt_data_aes("prod", Masked(payroll))
    assert alice.decrypt_data_aes("prod", harmless) == "harmless"  # the approved call still goes through once


def test_an_approved_bytearray_changed_after_the_check_is_not_what_runs(dual: tuple[KeyCustodian, HookClock]) -> None:
    kms, clock = dual
    harmless = bytes(kms.encrypt_envelope("prod", b"harmless"))
    payroll = bytes(kms.encrypt_envelope("prod", b"PAYROLL"))
    alice, bob = view(kms, "alice"), view(kms, "bob")
    bob.approve(request(lambda: alice.decrypt_envelope("prod", harmless)))
    sealed = bytearray(harmless)

    def swap() -> None:  # alice's other thread, once the approval was checked against the harmless bytes
        sealed[:] = payroll

    clock.hook = swap
    assert alice.decrypt_envelope("prod", sealed) == b"harmless"


# ---------------------------------------------------------------------------------------------- held


def test_a_token_of_another_key_is_not_decrypted_under_a_key_the_principal_may_use() -> None:
    kms = KeyCustodian(clock=StepClock())
    kms.establish_aes_key("mine")
    kms.establish_aes_key("theirs")
    token = kms.encrypt_data_aes("theirs", "their secret")
    sealed = kms.encrypt_envelope("theirs", b"their secret")
    kms.set_key_policy("mine", policy(allow("alice", ["kms:Decrypt", "kms:ReEncrypt"])))
    alice = view(kms, "alice")
    for call in (
        lambda: alice.decrypt_data_aes("mine", token),
        lambda: alice.rewrap("mine", token),
        lambda: alice.decrypt_envelope("mine", sealed),
        lambda: alice.rewrap_envelope("mine", sealed),
    ):
        with pytest.raises(DecryptionError):
            call()
    with pytest.raises(AccessDeniedError):
        alice.decrypt_data_aes("theirs", token)
