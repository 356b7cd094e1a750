"""A principal's view remembers the decisions that let its calls through (the cost target of issue 25).

Each view remembers, per action, key and associated data, the access-control state (a version number
that every credential, policy and grant change moves on) in which its call was allowed, so that a
repeated call is not decided again. These tests hold what must not change with it: a remembered
decision never outlives a change that withdraws it, it answers only the very call it was made for,
and a call that starts after a revocation returned never succeeds.
"""

from __future__ import annotations

import pytest

from helpers import StepClock, allow, deny, policy, succeeded_after, view
from kmslib import AccessDeniedError, KeyCustodian

PAYMENTS = {"StringEquals": {"kmslib:AssociatedData": "payments"}}


@pytest.fixture
def kms() -> KeyCustodian:
    kms = KeyCustodian(clock=StepClock())
    kms.establish_aes_key("aes")
    kms.establish_aes_key("other")
    return kms


def denials(kms: KeyCustodian, principal: str) -> int:
    return sum(1 for e in kms.audit_log if e.principal == principal and e.outcome == "AccessDeniedError")


def test_a_new_policy_withdraws_what_the_old_one_allowed_at_once(kms: KeyCustodian) -> None:
    kms.set_key_policy("aes", policy(allow("alice", ["kms:Encrypt", "kms:Decrypt"])))
    alice = view(kms, "alice")
    token = alice.encrypt_data_aes("aes", "x")
    assert alice.decrypt_data_aes("aes", token) == "x"
    assert alice.decrypt_data_aes("aes", token) == "x"  # remembered now
    kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt")))
    with pytest.raises(AccessDeniedError):
        alice.decrypt_data_aes("aes", token)
    alice.encrypt_data_aes("aes", "x")
    kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt"), deny("alice", "kms:Encrypt")))
    before = denials(kms, "alice")
    with pytest.raises(AccessDeniedError):
        alice.encrypt_data_aes("aes", "x")
    assert denials(kms, "alice") == before + 1  # a denial after a remembered allow is audited too


def test_a_principal_s_own_new_policy_takes_effect_at_once(kms: KeyCustodian) -> None:
    kms.set_key_policy("aes", policy(allow("alice", ["kms:Encrypt", "kms:PutKeyPolicy"])))
    alice = view(kms, "alice")
    alice.encrypt_data_aes("aes", "x")
    alice.encrypt_data_aes("aes", "x")
    alice.set_key_policy("aes", policy(allow("alice", "kms:Decrypt")))
    with pytest.raises(AccessDeniedError):
        alice.encrypt_data_aes("aes", "x")


def test_a_revoked_grant_withdraws_a_remembered_decision(kms: KeyCustodian) -> None:
    grant_id = kms.create_grant("aes", "bob", ["kms:Encrypt"])
    bob = view(kms, "bob")
    bob.encrypt_data_aes("aes", "x")
    bob.encrypt_data_aes("aes", "x")
    kms.revoke_grant(grant_id)
    with pytest.raises(AccessDeniedError):
        bob.encrypt_data_aes("aes", "x")


def test_a_replaced_or_revoked_credential_withdraws_a_remembered_decision(kms: KeyCustodian) -> None:
    kms.set_key_policy("aes", policy(allow(["alice", "bob"], "kms:Encrypt")))
    alice, bob = view(kms, "alice"), view(kms, "bob")
    for principal in (alice, bob):
        principal.encrypt_data_aes("aes", "x")
        principal.encrypt_data_aes("aes", "x")
    kms.issue_credential("alice")  # replaces alice's: the old view is refused
    with pytest.raises(AccessDeniedError):
        alice.encrypt_data_aes("aes", "x")
    bob.encrypt_data_aes("aes", "x")
    kms.revoke_credential("bob")
    with pytest.raises(AccessDeniedError):
        bob.encrypt_data_aes("aes", "x")


def test_a_remembered_decision_answers_only_its_own_action_key_data_and_principal(kms: KeyCustodian) -> None:
    kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt", Condition=PAYMENTS)))
    kms.set_key_policy("other", policy(allow("bob", "kms:Encrypt")))
    alice, bob = view(kms, "alice"), view(kms, "bob")
    for _ in range(2):
        token = alice.encrypt_data_aes("aes", "x", associated_data=b"payments")
    for call in (
        lambda: alice.encrypt_data_aes("aes", "x", associated_data=b"refunds"),
        lambda: alice.encrypt_data_aes("aes", "x"),
        lambda: alice.decrypt_data_aes("aes", token, associated_data=b"payments"),
        lambda: alice.encrypt_data_aes("other", "x"),
        lambda: bob.encrypt_data_aes("aes", "x", associated_data=b"payments"),
    ):
        with pytest.raises(AccessDeniedError):
            call()
    bob.encrypt_data_aes("other", "x")
    bob.encrypt_data_aes("other", "x")
    with pytest.raises(AccessDeniedError):
        bob.encrypt_data_aes("aes", "x")


def test_a_remembered_decision_never_lets_the_owner_s_own_argument_through(kms: KeyCustodian) -> None:
    kms.set_key_policy("aes", policy(allow("alice", ["kms:Encrypt", "kms:Decrypt"])))
    alice = view(kms, "alice")
    token = alice.encrypt_data_aes("aes", "x")
    alice.decrypt_data_aes("aes", token)
    kms.mark_compromised("aes", reason="leaked")
    for flag in (True, 1):
        with pytest.raises(AccessDeniedError):
            alice.decrypt_data_aes("aes", token, allow_compromised=flag)


def test_remembered_decisions_are_bounded(kms: KeyCustodian) -> None:
    kms.set_key_policy("aes", policy(allow("alice", "kms:Encrypt")))
    alice = view(kms, "alice")
    for n in range(5000):
        alice.encrypt_data_aes("aes", "x", associated_data=n.to_bytes(2, "big"))
    assert len(alice._allowed["kms:Encrypt"]) <= 4096  # type: ignore[attr-defined]


def test_changing_the_policy_while_a_principal_works_lets_nothing_start_and_succeed_after(
    kms: KeyCustodian,
) -> None:
    kms.set_key_policy("aes", policy(allow("alice", ["kms:Encrypt", "kms:Decrypt"])))
    token = kms.encrypt_data_aes("aes", "hello")
    deny_all = policy(deny("alice", "kms:*"))
    assert succeeded_after(view(kms, "alice"), "aes", token, lambda: kms.set_key_policy("aes", deny_all)) == []


@pytest.mark.parametrize("change", ["revoke_credential", "set_key_policy", "revoke_grant"])
@pytest.mark.parametrize("remembered", [False, True])
@pytest.mark.parametrize("aad", [None, b"payments"])
def test_a_change_returned_during_the_cryptography_fails_the_call(
    kms: KeyCustodian, change: str, remembered: bool, aad: bytes | None
) -> None:
    grant_id = kms.create_grant("aes", "alice", ["kms:Encrypt"])
    changes = {
        "revoke_credential": lambda: kms.revoke_credential("alice"),
        "set_key_policy": lambda: kms.set_key_policy("aes", policy(deny("alice", "kms:Encrypt"))),
        "revoke_grant": lambda: kms.revoke_grant(grant_id),
    }
    during: list[str] = []
    original = kms.encrypt_data_aes

    def encrypt(*args: object, **kwargs: object) -> str:  # the owner's method, as the view calls it
        token = original(*args, **kwargs)  # type: ignore[arg-type]
        for name in during:
            changes[name]()  # returns before the call can
        return token

    kms.encrypt_data_aes = encrypt  # type: ignore[method-assign]
    alice = view(kms, "alice")
    if remembered:
        for _ in range(2):
            alice.encrypt_data_aes("aes", "x", associated_data=aad)
    during.append(change)
    before = denials(kms, "alice")
    with pytest.raises(AccessDeniedError):
        alice.encrypt_data_aes("aes", "x", associated_data=aad)
    assert denials(kms, "alice") == before + 1


def test_a_remembered_allow_without_associated_data_lets_no_denied_data_through(kms: KeyCustodian) -> None:
    secret = {"StringEquals": {"kmslib:AssociatedData": "secret"}}
    kms.set_key_policy(
        "aes",
        policy(allow("alice", ["kms:Encrypt", "kms:Decrypt"]), deny("alice", "kms:Decrypt", Condition=secret)),
    )
    alice = view(kms, "alice")
    token = alice.encrypt_data_aes("aes", "x")
    for _ in range(2):
        assert alice.decrypt_data_aes("aes", token) == "x"  # remembered under the key id alone
    sealed = kms.encrypt_data_aes("aes", "y", associated_data="secret")

    class Text(str):
        pass

    class Data(bytes):
        pass

    for data in (b"secret", "secret", bytearray(b"secret"), memoryview(b"secret"), Text("secret"), Data(b"secret")):
        with pytest.raises(AccessDeniedError):
            alice.decrypt_data_aes("aes", sealed, associated_data=data)
