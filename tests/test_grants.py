"""Grants (contract section 11): narrow, revocable, never more than their creator holds, strict on revocation."""

from __future__ import annotations

import pytest

from helpers import StepClock, allow, deny, policy, succeeded_after, view
from kmslib import AccessDeniedError, ArgumentTypeError, InvalidInputError, KeyCustodian, KeyNotFoundError
from kmslib.policy import GRANT_OPERATIONS
from kmslib.principals import Grant

PAYMENTS = {"StringEquals": {"kmslib:AssociatedData": "payments"}}


@pytest.fixture
def kms() -> KeyCustodian:
    kms = KeyCustodian(clock=StepClock())
    kms.establish_aes_key("aes")
    return kms


def test_an_owner_s_grant_allows_its_operations_only_until_revoked(kms: KeyCustodian) -> None:
    bob = view(kms, "bob")
    token = kms.encrypt_data_aes("aes", "hello")
    with pytest.raises(AccessDeniedError):
        bob.decrypt_data_aes("aes", token)
    grant_id = kms.create_grant("aes", "bob", ["kms:Decrypt"])
    assert bob.decrypt_data_aes("aes", token) == "hello"
    with pytest.raises(AccessDeniedError):
        bob.encrypt_data_aes("aes", "x")
    assert kms.list_grants("aes") == (Grant(grant_id, "aes", "bob", ("kms:Decrypt",), None, "owner"),)
    kms.revoke_grant(grant_id)
    with pytest.raises(AccessDeniedError):
        bob.decrypt_data_aes("aes", token)
    assert kms.list_grants("aes") == ()
    entries = [(e.operation, e.key_id, e.principal, e.outcome) for e in kms.audit_log]
    assert ("create_grant", "aes", "owner", "ok") in entries
    assert ("revoke_grant", "aes", "owner", "ok") in entries
    with pytest.raises(InvalidInputError, match="no grant with id"):
        kms.revoke_grant(grant_id)


def test_a_grant_for_other_principals_does_not_help_this_one(kms: KeyCustodian) -> None:
    carol = view(kms, "carol")
    kms.create_grant("aes", "bob", ["kms:Encrypt"])
    with pytest.raises(AccessDeniedError):
        carol.encrypt_data_aes("aes", "x")


def test_a_grant_with_associated_data_allows_only_that_data(kms: KeyCustodian) -> None:
    bob = view(kms, "bob")
    kms.create_grant("aes", "bob", ["kms:Encrypt"], associated_data="payments")
    bob.encrypt_data_aes("aes", "x", associated_data=b"payments")
    for other in ("refunds", None, "Payments"):
        with pytest.raises(AccessDeniedError):
            bob.encrypt_data_aes("aes", "x", associated_data=other)


def test_a_policy_deny_overrides_a_grant(kms: KeyCustodian) -> None:
    bob = view(kms, "bob")
    kms.set_key_policy("aes", policy(deny("bob", "kms:Encrypt")))
    kms.create_grant("aes", "bob", ["kms:Encrypt"])
    with pytest.raises(AccessDeniedError):
        bob.encrypt_data_aes("aes", "x")


@pytest.mark.parametrize(
    ("operations", "error", "named"),
    [
        (["kms:RotateKey"], InvalidInputError, "'kms:RotateKey', which a grant cannot give"),
        (["kms:PutKeyPolicy"], InvalidInputError, "which a grant cannot give"),
        (["kms:RevokeKey"], InvalidInputError, "which a grant cannot give"),
        (["kms:*"], InvalidInputError, "which a grant cannot give"),
        (["kms:Nope"], InvalidInputError, "which a grant cannot give"),
        ([], InvalidInputError, "at least one action"),
        ("kms:Decrypt", ArgumentTypeError, "operations must be a list"),
        (None, ArgumentTypeError, "operations must be a list"),
        ([3], InvalidInputError, "which a grant cannot give"),
    ],
)
def test_bad_operations_are_refused_and_nothing_is_granted(
    kms: KeyCustodian, operations: object, error: type[Exception], named: str
) -> None:
    with pytest.raises(error, match=named):
        kms.create_grant("aes", "bob", operations)  # type: ignore[arg-type]
    assert kms.list_grants("aes") == ()


def test_grant_operations_are_uses_never_administration() -> None:
    administration = {"kms:RotateKey", "kms:RevokeKey", "kms:PutKeyPolicy", "kms:DisableKey", "kms:RevokeGrant"}
    assert not GRANT_OPERATIONS & administration
    assert "kms:CreateGrant" in GRANT_OPERATIONS


@pytest.mark.parametrize("grantee", ["owner", "", 5])
def test_bad_grantees_are_refused(kms: KeyCustodian, grantee: object) -> None:
    with pytest.raises(InvalidInputError):
        kms.create_grant("aes", grantee, ["kms:Decrypt"])  # type: ignore[arg-type]


def test_a_grant_on_a_missing_key_is_refused(kms: KeyCustodian) -> None:
    with pytest.raises(KeyNotFoundError):
        kms.create_grant("nope", "bob", ["kms:Decrypt"])
    with pytest.raises(KeyNotFoundError):
        kms.list_grants("nope")


# ------------------------------------------------------------------ never more than its creator holds


def test_a_principal_grants_only_what_it_holds(kms: KeyCustodian) -> None:
    kms.set_key_policy(
        "aes",
        policy(allow("alice", "kms:CreateGrant"), allow("alice", "kms:Decrypt", Condition=PAYMENTS)),
    )
    alice, bob = view(kms, "alice"), view(kms, "bob")
    with pytest.raises(AccessDeniedError, match="never gives more than its creator holds"):
        alice.create_grant("aes", "bob", ["kms:Decrypt"])  # any data: more than alice holds
    with pytest.raises(AccessDeniedError, match="never gives more"):
        alice.create_grant("aes", "bob", ["kms:Decrypt"], associated_data="hr")
    with pytest.raises(AccessDeniedError, match="never gives more"):
        alice.create_grant("aes", "bob", ["kms:Encrypt"], associated_data="payments")
    grant_id = alice.create_grant("aes", "bob", ["kms:Decrypt"], associated_data="payments")
    assert kms.list_grants("aes")[0].creator == "alice"
    token = kms.encrypt_data_aes("aes", "x", associated_data="payments")
    assert bob.decrypt_data_aes("aes", token, associated_data="payments") == "x"
    assert [g.grant_id for g in kms.list_grants("aes")] == [grant_id]


def test_a_principal_with_only_create_grant_cannot_escalate(kms: KeyCustodian) -> None:
    kms.set_key_policy("aes", policy(allow("mallory", "kms:CreateGrant")))
    mallory = view(kms, "mallory")
    for operations in (["kms:Decrypt"], ["kms:Encrypt"], ["kms:GenerateDataKey"], ["kms:CreateGrant", "kms:Decrypt"]):
        with pytest.raises(AccessDeniedError):
            mallory.create_grant("aes", "mallory", operations)
    assert kms.list_grants("aes") == ()
    mallory.create_grant("aes", "accomplice", ["kms:CreateGrant"])  # what it holds, and nothing more
    accomplice = view(kms, "accomplice")
    with pytest.raises(AccessDeniedError):
        accomplice.create_grant("aes", "mallory", ["kms:Decrypt"])


def test_a_conditioned_deny_stops_a_grant_for_any_data(kms: KeyCustodian) -> None:
    kms.set_key_policy(
        "aes",
        policy(allow("alice", ["kms:CreateGrant", "kms:Decrypt"]), deny("alice", "kms:Decrypt", Condition=PAYMENTS)),
    )
    alice = view(kms, "alice")
    with pytest.raises(AccessDeniedError, match="never gives more"):
        alice.create_grant("aes", "bob", ["kms:Decrypt"])  # bob would read "payments", which alice may not
    with pytest.raises(AccessDeniedError, match="never gives more"):
        alice.create_grant("aes", "bob", ["kms:Decrypt"], associated_data="payments")
    alice.create_grant("aes", "bob", ["kms:Decrypt"], associated_data="refunds")


def test_a_grantee_holding_create_grant_by_grant_may_pass_on_what_its_grants_give(kms: KeyCustodian) -> None:
    kms.create_grant("aes", "alice", ["kms:CreateGrant", "kms:Decrypt"])
    alice, bob = view(kms, "alice"), view(kms, "bob")
    alice.create_grant("aes", "bob", ["kms:Decrypt"])
    with pytest.raises(AccessDeniedError):
        alice.create_grant("aes", "bob", ["kms:Encrypt"])
    assert bob.decrypt_data_aes("aes", kms.encrypt_data_aes("aes", "x")) == "x"


# ------------------------------------------------------------------ principals and grants' administration


def test_a_principal_revokes_or_lists_grants_only_if_allowed_and_learns_nothing_of_others(kms: KeyCustodian) -> None:
    grant_id = kms.create_grant("aes", "bob", ["kms:Decrypt"])
    carol = view(kms, "carol")
    messages = []
    for target in (grant_id, "grant-0000000000000000"):
        with pytest.raises(AccessDeniedError) as caught:
            carol.revoke_grant(target)
        messages.append(str(caught.value).replace(target, "G"))
    assert messages[0] == messages[1]
    with pytest.raises(AccessDeniedError):
        carol.list_grants("aes")
    kms.set_key_policy("aes", policy(allow("carol", ["kms:RevokeGrant", "kms:ListGrants"])))
    assert [g.grant_id for g in carol.list_grants("aes")] == [grant_id]
    carol.revoke_grant(grant_id)
    assert kms.list_grants("aes") == ()
    last = kms.audit_log[-1]
    assert (last.operation, last.key_id, last.principal, last.outcome) == ("revoke_grant", "aes", "carol", "ok")


def test_a_grant_made_by_a_principal_stays_after_its_creator_loses_the_permission(kms: KeyCustodian) -> None:
    """As in AWS KMS: a grant stays until it is revoked; revoke it too (list_grants shows its creator)."""
    creator = kms.create_grant("aes", "alice", ["kms:CreateGrant", "kms:Encrypt"])
    view(kms, "alice").create_grant("aes", "bob", ["kms:Encrypt"])
    kms.revoke_grant(creator)
    bob = view(kms, "bob")
    bob.encrypt_data_aes("aes", "x")
    (left,) = kms.list_grants("aes")
    assert left.creator == "alice"
    kms.revoke_grant(left.grant_id)
    with pytest.raises(AccessDeniedError):
        bob.encrypt_data_aes("aes", "x")


def test_revoking_a_grant_while_operations_run_lets_nothing_start_and_succeed_after(kms: KeyCustodian) -> None:
    grant_id = kms.create_grant("aes", "bob", ["kms:Encrypt", "kms:Decrypt"])
    token = kms.encrypt_data_aes("aes", "hello")
    assert succeeded_after(view(kms, "bob"), "aes", token, lambda: kms.revoke_grant(grant_id)) == []
