"""The course's default key policy template: separation of duties (contract section 11).

Key administrators manage a key and never use it; key users use it and never administer it, as in the AWS KMS
default key policy's two statements and NIST SP 800-57 Part 2 Rev. 1's separation of roles.
"""

from __future__ import annotations

import pytest

from kmslib import KeyCustodian
from kmslib.errors import AccessDeniedError, InvalidInputError
from kmslib.policy import ACTIONS, ADMINISTRATOR_ACTIONS, USER_ACTIONS, USES, Request, parse_policy, separated_duties

ADMIN_ONLY = set(ADMINISTRATOR_ACTIONS) - set(USER_ACTIONS)


def test_administrators_never_use_and_users_never_administer() -> None:
    policy = parse_policy(separated_duties(administrators=["carol"], users=["alice", "bob"]))
    administration = {"kms:RotateKey", "kms:RevokeKey", "kms:PutKeyPolicy", "kms:DisableKey", "kms:RevokeGrant"}
    for action in USES:
        assert policy.decide("carol", action).reason == "explicit-deny", action  # whatever a grant says
    for action in USER_ACTIONS:
        assert policy.decide("alice", action).allowed, action
        assert policy.decide("bob", action).allowed, action
    for action in administration:
        assert policy.decide("carol", action).allowed, action
        assert not policy.decide("alice", action).allowed, action
    for action in ACTIONS:
        assert not policy.decide("mallory", action).allowed, action  # nobody else, for anything


def test_the_two_lists_share_nothing() -> None:
    assert not set(ADMINISTRATOR_ACTIONS) & set(USER_ACTIONS)
    assert not set(ADMINISTRATOR_ACTIONS) & set(USES)
    assert "kms:CreateGrant" not in ADMINISTRATOR_ACTIONS  # a grant would hand out uses
    assert set(ADMINISTRATOR_ACTIONS) | set(USER_ACTIONS) | set(USES) <= set(ACTIONS)


def test_users_can_be_held_to_one_associated_data() -> None:
    policy = parse_policy(separated_duties(administrators="carol", users="alice", associated_data="payments"))
    assert policy.evaluate(Request("alice", "kms:Encrypt", b"payments")).allowed
    assert not policy.evaluate(Request("alice", "kms:Encrypt", b"refunds")).allowed
    assert not policy.evaluate(Request("alice", "kms:Encrypt", None)).allowed
    assert policy.decide("carol", "kms:RotateKey").allowed  # administration is not about data


def test_a_principal_in_both_roles_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="both administers and uses"):
        separated_duties(administrators=["carol", "alice"], users=["alice"])


@pytest.mark.parametrize(
    ("administrators", "users"),
    [([], ["alice"]), (["carol"], []), (["owner"], ["alice"]), (["carol"], ["*"]), ([""], ["alice"])],
)
def test_a_bad_list_of_names_is_refused(administrators: list[str], users: list[str]) -> None:
    with pytest.raises(InvalidInputError):
        separated_duties(administrators=administrators, users=users)


@pytest.mark.parametrize("approvals", [-1, 1.5, True, "1"])
def test_a_bad_number_of_approvals_is_refused(approvals: object) -> None:
    with pytest.raises(InvalidInputError, match="approvals_to_revoke"):
        separated_duties(administrators="carol", users="alice", approvals_to_revoke=approvals)  # type: ignore[arg-type]


def test_with_approvals_revoking_needs_them_and_nothing_else_does() -> None:
    policy = parse_policy(separated_duties(administrators=["bob", "carol"], users="alice", approvals_to_revoke=1))
    revoke = policy.decide("bob", "kms:RevokeKey")
    assert not revoke.allowed
    assert revoke.approvals_required == 1
    assert policy.evaluate(Request("bob", "kms:RevokeKey", approvals=1)).allowed
    assert policy.decide("bob", "kms:RotateKey").allowed


def test_the_template_governs_a_real_key() -> None:
    kms = KeyCustodian()
    kms.establish_aes_key("payments")
    kms.set_key_policy("payments", separated_duties(administrators="carol", users="alice"))
    carol = kms.as_principal(kms.issue_credential("carol"))
    alice = kms.as_principal(kms.issue_credential("alice"))
    token = alice.encrypt_data_aes("payments", "order 17")
    with pytest.raises(AccessDeniedError):
        carol.decrypt_data_aes("payments", token)
    with pytest.raises(AccessDeniedError):
        alice.rotate_key("payments")
    carol.rotate_key("payments")
    assert alice.decrypt_data_aes("payments", token) == "order 17"


def test_each_call_returns_a_fresh_document() -> None:
    first = separated_duties(administrators="carol", users="alice")
    first["Statement"].clear()
    assert separated_duties(administrators="carol", users="alice")["Statement"]
